//! What a handler can do from its callbacks: [`Context`] (publish, timers,
//! counters: the worker's services) and [`Peer`] (one connection: send,
//! close, subscribe, and publish as that connection).

use std::net::SocketAddr;
use std::prelude::rust_2021::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::broker::Skip;
use super::history::{self, Replay, Since};
use super::hub::{Hub, Stats, TopicCounts};
use super::publication::Publication;
use super::timers::{HandlerTimers, TimerId};
use super::topics::{self, check_topic_name, Mode, Offer, TopicError, Topics};
use super::{ConnId, ServerConfig};
use crate::close::{CloseCode, CloseReason};
use crate::connection::{MessageKind, SendError, Sender, SharedFrame, SHARED_FRAME_OVERHEAD};
use crate::deadline::after;
use crate::frame::ControlPayload;
use crate::lane::ReplyLane;

/// Room for a `subscribed` notice and its frame header, but its topic's
/// name: the JSON around it, an epoch (at most 64 characters), the id and
/// `"recovered"`.
const NOTICE_ROOM: usize = 256;

/// A publish to this worker's subscribers, owed once the current callback
/// returns.
pub(crate) struct Outgoing {
    pub(crate) topic: Arc<str>,
    pub(crate) frame: SharedFrame,
    /// The slot and stamp of a connection not to deliver to.
    pub(crate) exclude: Option<(usize, u64)>,
}

/// Counters a worker keeps while it runs; published to the hub once per
/// loop turn.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) published: u64,
    pub(crate) delivered: u64,
    pub(crate) dropped_slow: u64,
    pub(crate) closed_slow: u64,
    pub(crate) refused: u64,
    pub(crate) compressed: u64,
}

impl Counts {
    /// Counts what [`topics::offer`] did with a publication for one
    /// subscriber. Returns whether the connection has something new to
    /// write: messages, or the close the slow-subscriber policy queued.
    pub(crate) fn record(&mut self, offer: Offer) -> bool {
        match offer {
            Offer::Queued { queued, refused } => {
                self.delivered += queued;
                self.refused += refused;
                queued > 0
            }
            Offer::Dropped(n) => {
                self.dropped_slow += n;
                false
            }
            Offer::Closed { queued, refused } => {
                self.delivered += queued;
                self.closed_slow += 1;
                self.refused += refused;
                true
            }
        }
    }
}

/// A worker's state that handlers reach through [`Context`].
pub(crate) struct Services {
    pub(crate) worker: usize,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) topics: Topics,
    pub(crate) timers: HandlerTimers,
    pub(crate) outbox: Vec<Outgoing>,
    pub(crate) counts: Counts,
}

impl Services {
    /// Hands `frame` to the relay to other instances if there is one (it
    /// comes back to this instance's subscribers from there); else sends it
    /// to every other worker with subscribers of `topic` and books it for
    /// this worker's, or with history hands it to every worker (this one
    /// too) through its inbox, in id order. Returns the subscribers
    /// reached.
    fn publish(
        &mut self,
        topic: &str,
        frame: &SharedFrame,
        exclude: Option<(usize, u64)>,
        now: Instant,
    ) -> usize {
        self.counts.published += 1;
        let skip = exclude.map(|(slot, stamp)| Skip {
            worker: self.worker,
            slot,
            stamp,
        });
        // The connection not to deliver to counts only if it subscribed.
        let excluded = exclude.is_some_and(|(slot, _)| self.topics.is_subscribed(slot, topic));
        if let Some(reached) = self
            .hub
            .relay_publish(topic, frame, self.topics.name(topic), skip)
        {
            return reached.saturating_sub(usize::from(excluded));
        }
        if self.hub.relay().is_some() && self.hub.history.is_some() {
            // The relay is away: ids come from Redis only, so this one has
            // none (see Hub::route_unstamped).
            let reached = self.hub.route_unstamped(topic, frame, skip);
            return reached.saturating_sub(usize::from(excluded));
        }
        if let Some(history) = &self.hub.history {
            let reached = self.hub.publish_stamped(history, topic, frame, skip, now);
            return reached.saturating_sub(usize::from(excluded));
        }
        let remote = self.hub.route(topic, frame, Some(self.worker), None);
        let members = self.topics.members(topic);
        let local = members.len()
            - usize::from(
                exclude.is_some_and(|(slot, _)| members.iter().any(|m| m.slot as usize == slot)),
            );
        if local > 0 {
            let topic = self
                .topics
                .name(topic)
                .map_or_else(|| Arc::from(topic), Arc::clone);
            self.outbox.push(Outgoing {
                topic,
                frame: frame.clone(),
                exclude,
            });
        }
        remote + local
    }

    pub(crate) fn subscribe(&mut self, slot: usize, topic: &str) -> Result<bool, TopicError> {
        let done = self.topics.subscribe(slot, topic, &self.config.topics)?;
        if done.added {
            self.hub.count(&done.name, self.worker, 1);
        }
        Ok(done.added)
    }

    /// Subscribes in the tagged form, resuming after `since`; returns what
    /// to send the connection first (`None` if it was already subscribed).
    fn subscribe_tagged(
        &mut self,
        slot: usize,
        topic: &str,
        since: Option<Since<'_>>,
        now: Instant,
        fits: impl Fn(&SharedFrame) -> bool,
    ) -> Result<Option<Replay>, TopicError> {
        let Some(history) = &self.hub.history else {
            return Err(TopicError::NoHistory);
        };
        // Checked before the log is made, so a bad name leaves nothing.
        check_topic_name(topic, self.config.topics.max_name_len)?;
        let (topics, hub, worker, limits) = (
            &mut self.topics,
            &self.hub,
            self.worker,
            &self.config.topics,
        );
        let mut added = false;
        let replay = history.subscribe(topic, since, now, fits, |name, last| {
            let mode = Mode::new(true, last);
            let done = topics.subscribe_as(slot, name, limits, mode)?;
            if done.added {
                hub.count(&done.name, worker, 1);
            }
            added = done.added;
            Ok(done.added)
        });
        match replay {
            Ok(replay) => Ok(Some(replay).filter(|_| added)),
            Err(e) => {
                // A refused subscription may have made an empty log.
                history.forget_if_unused(topic, || hub.subscribers(topic) > 0);
                Err(e)
            }
        }
    }

    fn unsubscribe(&mut self, slot: usize, topic: &str) -> bool {
        match self.topics.unsubscribe(slot, topic) {
            Some((name, _)) => {
                self.hub.count(&name, self.worker, -1);
                true
            }
            None => false,
        }
    }

    /// Ends every subscription of a connection that closed.
    pub(crate) fn unsubscribe_all(&mut self, slot: usize) {
        let (hub, worker) = (&self.hub, self.worker);
        self.topics
            .unsubscribe_all(slot, |name, _| hub.count(&name, worker, -1));
    }
}

/// The worker's services, as a handler reaches them from any callback:
/// publish to topics, set timers, read the counters.
pub struct Context<'a> {
    pub(crate) services: &'a mut Services,
    pub(crate) now: Instant,
}

impl Context<'_> {
    /// The index of the worker thread running this callback (0 to
    /// [`ServerConfig::threads`] - 1). Each worker has its own handler, so
    /// work meant to happen once per server (a clock tick) belongs on one
    /// worker, e.g. worker 0 in [`Handler::on_start`](super::Handler::on_start).
    pub fn worker(&self) -> usize {
        self.services.worker
    }

    /// The time the worker took for this turn of its loop.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Publishes a message to every subscriber of `topic` on every worker,
    /// encoded once. Returns the number of subscribers it was sent to: exact
    /// on this worker, a snapshot of the others' counts.
    ///
    /// Order: messages published from one thread reach each subscriber in
    /// the order they were published. This worker's subscribers get the
    /// message when the current callback returns, in one write per
    /// subscriber for everything published to it in this turn.
    ///
    /// With a relay to other instances (`ServerConfig::redis`), the
    /// message goes through Redis and every instance, this one included,
    /// delivers it when it comes back; the count is then this instance's
    /// subscribers. See the README, "Running several instances".
    pub fn publish(&mut self, topic: &str, kind: MessageKind, payload: &[u8]) -> usize {
        self.publish_frame(topic, &SharedFrame::new(kind, payload))
    }

    /// Publishes a frame encoded beforehand (see [`publish`](Self::publish)).
    pub fn publish_frame(&mut self, topic: &str, frame: &SharedFrame) -> usize {
        self.services.publish(topic, frame, None, self.now)
    }

    /// Subscribers of `topic` over all workers, a snapshot.
    pub fn subscribers(&self, topic: &str) -> usize {
        self.services.hub.subscribers(topic)
    }

    /// How many topics have subscribers over all workers, and the `limit`
    /// with the most (a snapshot). It walks every topic: a query for an
    /// operator or a dashboard, not something to run per message.
    pub fn topic_counts(&self, limit: usize) -> TopicCounts {
        self.services.hub.topic_counts(limit)
    }

    /// Calls [`Handler::on_timer`](super::Handler::on_timer) with `token`
    /// once, after `delay` (more than a century counts as a century).
    pub fn set_timer(&mut self, delay: Duration, token: u64) -> TimerId {
        self.services
            .timers
            .set(after(self.now, delay), token, None)
    }

    /// Calls [`Handler::on_timer`](super::Handler::on_timer) with `token`
    /// every `period`, on a fixed schedule (a late turn of the loop skips
    /// ticks instead of bunching them). A zero period fires once.
    pub fn set_interval(&mut self, period: Duration, token: u64) -> TimerId {
        self.services
            .timers
            .set(after(self.now, period), token, Some(period))
    }

    /// Cancels a timer; false if it is no longer pending.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.services.timers.cancel(id)
    }

    /// The server's counters, summed over the workers.
    pub fn stats(&self) -> Stats {
        self.services.hub.stats()
    }

    /// The server's configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.services.config
    }
}

/// A connection as a [`Handler`](super::Handler) sees it: send to it,
/// close it, subscribe it to topics, publish as it, and reach the worker's
/// [`Context`].
pub struct Peer<'a> {
    pub(crate) id: ConnId,
    /// Tells this connection apart from later ones in the same slot.
    pub(crate) stamp: u64,
    pub(crate) peer_addr: SocketAddr,
    pub(crate) tx: &'a mut Sender,
    pub(crate) socket: &'a mut super::transport::Transport,
    pub(crate) direct_write_min: usize,
    /// More input waits behind this message: a large reply is queued rather
    /// than written at once, so the replies to one read leave in one write.
    pub(crate) more_input: bool,
    /// Set when a direct write hit a transport error.
    pub(crate) broken: &'a mut bool,
    /// Where large replies from the read buffer are noted, to be written
    /// without a copy once the read's messages are handled (`None` outside
    /// message handling).
    pub(crate) lane: Option<&'a mut ReplyLane>,
    pub(crate) ctx: Context<'a>,
}

impl<'a> Peer<'a> {
    /// This connection's id.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The address the connection comes from.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// The worker's services: publish, timers, counters.
    pub fn context(&mut self) -> &mut Context<'a> {
        &mut self.ctx
    }

    /// Sends a whole message. A large payload goes to the socket without a
    /// copy when it can: an echo straight from the read buffer once the
    /// read's messages are handled, or another payload at once, together
    /// with what is queued ahead of it, unless more received messages wait.
    pub fn send(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        if data.len() < self.direct_write_min || *self.broken {
            return self.tx.send_message(kind, data);
        }
        if let Some(lane) = self.lane.as_deref_mut() {
            if lane.note(&mut *self.tx, kind, data) {
                return Ok(());
            }
            // Noted frames go first: nothing may overtake them.
            if !lane.is_empty() {
                return self.tx.send_message(kind, data);
            }
        }
        if self.more_input {
            return self.tx.send_message(kind, data);
        }
        match self.tx.send_message_vectored(kind, data, self.socket) {
            Ok(result) => result,
            Err(_) => {
                *self.broken = true;
                Ok(())
            }
        }
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send(MessageKind::Text, text.as_bytes())
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send(MessageKind::Binary, data)
    }

    /// Sends a frame encoded beforehand, without copying it.
    pub fn send_shared(&mut self, frame: &SharedFrame) -> Result<(), SendError> {
        self.tx.send_shared(frame)
    }

    /// Sends a ping.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        let payload = ControlPayload::new(payload).ok_or(SendError::Full)?;
        self.tx.ping(payload)
    }

    /// Starts the closing handshake. The reason is cut to 123 bytes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.tx.close(code, CloseReason::truncate(reason))
    }

    /// Bytes queued for this connection.
    pub fn pending_output_len(&self) -> usize {
        self.tx.pending_output_len()
    }

    /// Subscribes this connection to `topic`; `Ok(false)` if it already
    /// was. Closing the connection ends its subscriptions.
    pub fn subscribe(&mut self, topic: &str) -> Result<bool, TopicError> {
        self.ctx.services.subscribe(self.id.slot, topic)
    }

    /// Subscribes this connection to `topic` with message ids (needs
    /// [`ServerConfig::history`]): it gets a notice first,
    /// `{"type":"subscribed","topic":T,"epoch":E,"last":N}`, then each
    /// message in the tagged form `{"topic":T,"id":N,"data":"..."}` (or
    /// `"binary":"BASE64"`). With `since`, the notice also says
    /// `"recovered":true|false` and is followed by the messages kept after
    /// `since` (all of those kept when not recovered: the history no
    /// longer reaches back to it, it is ahead of the newest id, or of
    /// another epoch), then the live stream without gap or duplicate.
    /// On a topic whose ids come from a broker, a `since` of the same
    /// epoch ahead of this instance (by at most `max_messages` ids) is
    /// recovered: the notice's `last` is `since`, and the messages up to
    /// it, still on their way here, are skipped.
    /// `Ok(false)` if it already was subscribed (nothing is sent then).
    pub fn subscribe_with_ids(
        &mut self,
        topic: &str,
        since: Option<Since<'_>>,
    ) -> Result<bool, TopicError> {
        let now = self.ctx.now;
        // A message that cannot fit even an empty queue after the notice
        // would be refused on every resume.
        let room = self
            .tx
            .max_output()
            .saturating_sub(NOTICE_ROOM + 6 * topic.len());
        let fits = |frame: &SharedFrame| frame.wire_len() + SHARED_FRAME_OVERHEAD <= room;
        let Some(replay) =
            self.ctx
                .services
                .subscribe_tagged(self.id.slot, topic, since, now, fits)?
        else {
            return Ok(false);
        };
        let notice = history::notice(topic, &replay);
        let mut sent = self.tx.send_text(&notice);
        for frame in &replay.frames {
            sent = sent.and_then(|()| self.tx.send_shared(frame));
        }
        if sent.is_err() {
            // The replay does not fit the output bound: better a close the
            // client can act on (resume with a later id) than a gap.
            let _ = self.close(CloseCode::TRY_AGAIN_LATER, "history replay too large");
        }
        Ok(true)
    }

    /// Ends this connection's subscription to `topic`; false if it had
    /// none.
    pub fn unsubscribe(&mut self, topic: &str) -> bool {
        self.ctx.services.unsubscribe(self.id.slot, topic)
    }

    /// Whether this connection is subscribed to `topic`.
    pub fn is_subscribed(&self, topic: &str) -> bool {
        self.ctx.services.topics.is_subscribed(self.id.slot, topic)
    }

    /// The topics this connection is subscribed to. The names are shared
    /// with the worker's table: cloning one copies a pointer.
    pub fn subscriptions(&self) -> impl Iterator<Item = &Arc<str>> + '_ {
        self.ctx.services.topics.subscriptions(self.id.slot)
    }

    /// Publishes to every subscriber of `topic`, this connection included
    /// if it is one: its copy is queued at once, after what it was sent
    /// before (with history, or after a [`Context::publish`] of this
    /// callback that it gets too, when the callback returns, in order with
    /// the others). Returns the subscribers reached (see [`Context::publish`]).
    pub fn publish(&mut self, topic: &str, kind: MessageKind, payload: &[u8]) -> usize {
        let frame = SharedFrame::new(kind, payload);
        let now = self.ctx.now;
        let hub = &self.ctx.services.hub;
        if hub.history.is_some() {
            // Its copy comes in id order with everyone else's (through
            // Redis, with a relay).
            return self.ctx.services.publish(topic, &frame, None, now);
        }
        let mine = self.is_subscribed(topic);
        let me = (self.id.slot, self.stamp);
        let services = &self.ctx.services;
        let waiting = services
            .outbox
            .iter()
            .any(|o| o.exclude != Some(me) && services.topics.is_subscribed(me.0, &o.topic));
        if waiting {
            // What was published before in this turn (Context::publish)
            // and reaches it waits in the outbox: its copy goes after.
            return self.ctx.services.publish(topic, &frame, None, now);
        }
        let others = self.ctx.services.publish(topic, &frame, Some(me), now);
        if mine {
            let services = &mut *self.ctx.services;
            let mut message = Publication::new(std::slice::from_ref(&frame));
            let offered = topics::offer(self.tx, &mut message, &services.config, false);
            services.counts.compressed += message.compressed();
            services.counts.record(offered);
        }
        others + usize::from(mine)
    }

    /// Publishes to every subscriber of `topic` but this connection (a chat
    /// message its sender already shows). Returns the subscribers reached.
    pub fn publish_to_others(&mut self, topic: &str, kind: MessageKind, payload: &[u8]) -> usize {
        let frame = SharedFrame::new(kind, payload);
        let now = self.ctx.now;
        let me = (self.id.slot, self.stamp);
        self.ctx.services.publish(topic, &frame, Some(me), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::broker::{Accepted, BrokerStats, Outbound, Relay};

    /// A relay that takes every publish.
    struct Taking;

    impl Relay for Taking {
        fn publish(&self, _: Outbound) -> Accepted {
            Accepted::Relayed
        }
        fn topic_changed(&self, _: &Arc<str>) {}
        fn start(
            self: Arc<Self>,
            _: Arc<Hub>,
        ) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
            Ok(Vec::new())
        }
        fn shutdown(&self) {}
        fn stats(&self) -> BrokerStats {
            BrokerStats::default()
        }
    }

    #[test]
    fn a_relayed_publish_to_others_counts_a_sender_that_is_no_subscriber() {
        let hub = Arc::new(Hub::new(1, 1 << 20, None, Some(Arc::new(Taking))));
        let mut services = Services {
            worker: 0,
            config: Arc::new(ServerConfig::default()),
            hub,
            topics: Topics::default(),
            timers: HandlerTimers::default(),
            outbox: Vec::new(),
            counts: Counts::default(),
        };
        // Slot 1 subscribes; slot 2, not subscribed, publishes to the others.
        assert!(services.subscribe(1, "t").unwrap());
        let frame = SharedFrame::new(MessageKind::Text, b"x");
        let now = Instant::now();
        assert_eq!(services.publish("t", &frame, Some((2, 7)), now), 1);
        assert_eq!(services.publish("t", &frame, Some((1, 7)), now), 0);
        assert_eq!(services.publish("t", &frame, None, now), 1);
    }
}
