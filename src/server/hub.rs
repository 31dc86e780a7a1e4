//! What the workers share: an inbox per worker for messages published
//! elsewhere, the directory of which workers have subscribers for which
//! topic, and the counters.
//!
//! A publish takes the directory's read lock once, then the inbox lock of
//! each worker with subscribers once: never a lock per subscriber. A worker
//! is woken only when its inbox goes from empty to not empty, so a burst of
//! publishes costs it one wake-up.
//!
//! With a relay to other instances ([`broker`](super::broker)), publishes
//! go to the relay instead, and what comes back enters the inboxes here;
//! the directory tells the relay which topics the instance has.

use std::collections::{HashMap, HashSet};
use std::prelude::rust_2021::*;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use std::time::Instant;

use super::broker::{Accepted, BrokerStats, Outbound, Relay, Skip};
use super::history::{self, Histories, HistoryLimits, Shift, Stamped};
use crate::connection::{MessageKind, SharedFrame};

/// A message on its way to a worker's subscribers.
pub(crate) struct Envelope {
    pub(crate) topic: Arc<str>,
    /// The message as published (for [`Tag::Anchored`], the notice).
    pub(crate) frame: SharedFrame,
    /// With history: its id and tagged form, or what changed in the
    /// topic's run of ids.
    pub(crate) tag: Tag,
    /// The slot and stamp of a connection of the receiving worker not to
    /// deliver to.
    pub(crate) skip: Option<(usize, u64)>,
}

/// What a message is, beyond its payload, for subscribers in the tagged
/// form.
pub(crate) enum Tag {
    /// No history: every subscriber gets the frame as published.
    Plain,
    /// A message with its id and tagged form (the JSON envelope).
    Id { id: u64, tagged: SharedFrame },
    /// A message without id (relayed from a program that published it
    /// plainly, or delivered here only while the relay was away): the
    /// tagged form has no `"id"`, and no subscriber skips it.
    NoId { tagged: SharedFrame },
    /// Not a message: the topic's log took a broker's epoch; the frame is
    /// a `subscribed` notice for the tagged subscribers that came before
    /// (those with no id yet).
    Anchored,
    /// Not a message: the topic's run of ids broke (another epoch, or ids
    /// this instance missed); tagged subscribers are closed with 1012 so
    /// that they resume and learn what could not be recovered.
    Broken,
    /// Not a message: a message with id of the topic was skipped here (the
    /// inbox was full); tagged subscribers are closed with 1013 so that
    /// they resume from the history rather than miss it unseen.
    Missed,
}

impl Envelope {
    /// Whether `next`, right after this one in an inbox, can go to
    /// subscribers in one run with it: the same topic and audience, and
    /// both plain or both messages with a tagged form.
    pub(crate) fn continues_run(&self, next: &Envelope) -> bool {
        let message = |t: &Tag| matches!(t, Tag::Id { .. } | Tag::NoId { .. });
        let kinds = matches!((&self.tag, &next.tag), (Tag::Plain, Tag::Plain))
            || (message(&self.tag) && message(&next.tag));
        kinds && self.skip == next.skip && self.topic == next.topic
    }

    /// Wire size of its larger form: what it adds to a run.
    pub(crate) fn run_len(&self) -> usize {
        match &self.tag {
            Tag::Id { tagged, .. } | Tag::NoId { tagged } => {
                self.frame.wire_len().max(tagged.wire_len())
            }
            _ => self.frame.wire_len(),
        }
    }

    fn wire_len(&self) -> usize {
        self.frame.wire_len()
            + match &self.tag {
                Tag::Id { tagged, .. } | Tag::NoId { tagged } => tagged.wire_len(),
                _ => 0,
            }
    }
}

/// Messages waiting for one worker.
#[derive(Default)]
pub(crate) struct Queue {
    pub(crate) items: Vec<Envelope>,
    /// Wire bytes of `items`.
    bytes: usize,
    /// Topics with a [`Tag::Missed`] in `items`: one is enough.
    missed: HashSet<Arc<str>>,
}

pub(crate) struct Inbox {
    queue: Mutex<Queue>,
    /// Set when the worker has been woken for what is queued; cleared by
    /// the worker before it takes the queue.
    notified: AtomicBool,
    waker: Arc<mio::Waker>,
}

/// Counters of one worker, published by it once per loop turn.
#[derive(Default)]
pub(crate) struct WorkerCounters {
    pub(crate) published: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) dropped_slow: AtomicU64,
    pub(crate) closed_slow: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) compressed: AtomicU64,
    pub(crate) inbox_dropped: AtomicU64,
    pub(crate) connections: AtomicUsize,
    pub(crate) subscriptions: AtomicUsize,
    pub(crate) topics: AtomicUsize,
}

/// The topics that have subscribers, a snapshot taken over all workers
/// ([`Context::topic_counts`](super::Context::topic_counts)). With a relay
/// to other instances, the subscribers are this instance's only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicCounts {
    /// How many topics have at least one subscriber.
    pub total: usize,
    /// Topic names and subscriber counts, the most subscribed first (ties
    /// by name), as many as were asked for.
    pub busiest: Vec<(Arc<str>, usize)>,
}

/// Server-wide counters, summed over the workers: what
/// [`ServerHandle::stats`](super::ServerHandle::stats) and
/// [`Context::stats`](super::Context::stats) report. Each worker updates
/// its share once per loop turn, so a reading may lag by one turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages published (once per publish, whatever the fan-out).
    pub published: u64,
    /// Copies of published messages queued to subscribers.
    pub delivered: u64,
    /// Published messages not queued to a subscriber because its output
    /// was over [`ServerConfig::slow_subscriber_limit`](super::ServerConfig)
    /// (policy [`SlowSubscriber::Drop`](super::SlowSubscriber::Drop)).
    pub dropped_slow: u64,
    /// Subscribers closed for being too slow (policy
    /// [`SlowSubscriber::Close`](super::SlowSubscriber::Close); under
    /// either policy, subscribers with ids that fell behind or whose output
    /// bound refused a message).
    pub closed_slow: u64,
    /// Published messages not queued to a subscriber whose connection was
    /// closing (those of the publication that made the close policy close
    /// it included), or whose output was at
    /// [`Limits::max_output_buffer`](crate::Limits) (by default far above
    /// the slow-subscriber limit, so the policy acts first).
    pub refused: u64,
    /// permessage-deflate copies of published messages made: one per
    /// message, worker and compression setting, however many subscribers
    /// take it.
    pub compressed: u64,
    /// Messages not handed to a worker because its inbox was over
    /// [`ServerConfig::max_inbox_bytes`](super::ServerConfig).
    pub inbox_dropped: u64,
    /// Open connections (handshakes included).
    pub connections: usize,
    /// Subscriptions (a connection subscribed to two topics counts twice).
    pub subscriptions: usize,
    /// Topics with subscribers, counted once per worker that has some.
    pub topics: usize,
    /// Topics with a history ([`ServerConfig::history`](super::ServerConfig::history)).
    pub history_topics: usize,
    /// Messages kept in the history over all topics.
    pub history_messages: usize,
    /// Bytes the history holds, as counted against its bound.
    pub history_bytes: usize,
    /// The relay to other instances (`--redis`), if any.
    pub broker: BrokerStats,
}

pub(crate) struct Hub {
    threads: usize,
    max_inbox_bytes: usize,
    inboxes: OnceLock<Box<[Inbox]>>,
    /// Subscribers per worker of each topic with any.
    directory: RwLock<HashMap<Arc<str>, Box<[AtomicUsize]>>>,
    pub(crate) counters: Box<[WorkerCounters]>,
    /// Publishes from outside the workers ([`ServerHandle`](super::ServerHandle)).
    pub(crate) published: AtomicU64,
    pub(crate) shutdown: AtomicBool,
    /// Connections open over all workers, against
    /// [`ServerConfig::max_connections`](super::ServerConfig::max_connections).
    open_connections: AtomicUsize,
    /// Topic history and ids, when the server keeps them.
    pub(crate) history: Option<Histories>,
    relay: Option<Arc<dyn Relay>>,
}

impl Hub {
    pub(crate) fn new(
        threads: usize,
        max_inbox_bytes: usize,
        history: Option<HistoryLimits>,
        relay: Option<Arc<dyn Relay>>,
    ) -> Hub {
        Hub {
            threads,
            max_inbox_bytes,
            history: history.map(Histories::new),
            inboxes: OnceLock::new(),
            directory: RwLock::new(HashMap::new()),
            counters: (0..threads).map(|_| WorkerCounters::default()).collect(),
            published: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            open_connections: AtomicUsize::new(0),
            relay,
        }
    }

    /// Counts a new connection if fewer than `max` are open over all
    /// workers; false if the server is full.
    pub(crate) fn reserve_connection(&self, max: usize) -> bool {
        self.open_connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// A connection counted by [`reserve_connection`](Self::reserve_connection)
    /// is gone.
    pub(crate) fn release_connection(&self) {
        self.open_connections.fetch_sub(1, Ordering::AcqRel);
    }

    /// The relay to other instances, if any.
    pub(crate) fn relay(&self) -> Option<&Arc<dyn Relay>> {
        self.relay.as_ref()
    }

    /// Hands a publish to the relay. `None`: there is none, or it is not
    /// connected, and the caller delivers it here. `Some(n)`: relayed (n:
    /// this instance's subscribers, a snapshot, `skip` included if it is
    /// one) or dropped (0).
    pub(crate) fn relay_publish(
        &self,
        topic: &str,
        frame: &SharedFrame,
        name: Option<&Arc<str>>,
        skip: Option<Skip>,
    ) -> Option<usize> {
        let relay = self.relay.as_ref()?;
        let message = Outbound {
            topic: name.map_or_else(|| Arc::from(topic), Arc::clone),
            frame: frame.clone(),
            skip,
        };
        match relay.publish(message) {
            Accepted::Relayed => Some(self.subscribers(topic)),
            Accepted::Dropped => Some(0),
            Accepted::Local => None,
        }
    }

    /// The topics with subscribers in this instance, a snapshot.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn topic_names(&self) -> Vec<Arc<str>> {
        let dir = self
            .directory
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        dir.keys().cloned().collect()
    }

    /// Called once, when the workers exist.
    pub(crate) fn set_wakers(&self, wakers: Vec<Arc<mio::Waker>>) {
        let inboxes = wakers
            .into_iter()
            .map(|waker| Inbox {
                queue: Mutex::new(Queue::default()),
                notified: AtomicBool::new(false),
                waker,
            })
            .collect();
        let _ = self.inboxes.set(inboxes);
    }

    /// Wakes every worker (shutdown).
    pub(crate) fn wake_all(&self) {
        for inbox in self.inboxes.get().into_iter().flatten() {
            let _ = inbox.waker.wake();
        }
    }

    /// Notes that `worker` gained (`delta` 1) or lost (-1) a subscriber of
    /// `topic`.
    pub(crate) fn count(&self, topic: &Arc<str>, worker: usize, delta: isize) {
        {
            let dir = self
                .directory
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(counts) = dir.get(topic) {
                add(&counts[worker], delta);
                if delta > 0 || counts.iter().any(|c| c.load(Ordering::Relaxed) > 0) {
                    return;
                }
            } else if delta < 0 {
                return;
            }
        }
        let mut dir = self
            .directory
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let changed = match dir.get(topic) {
            // Nobody left anywhere: forget the topic.
            Some(counts) if delta < 0 => {
                let gone = counts.iter().all(|c| c.load(Ordering::Relaxed) == 0);
                if gone {
                    dir.remove(topic);
                }
                gone
            }
            // Someone added it between the two locks.
            Some(counts) => {
                add(&counts[worker], delta);
                false
            }
            None => {
                let counts: Box<[AtomicUsize]> =
                    (0..self.threads).map(|_| AtomicUsize::new(0)).collect();
                add(&counts[worker], delta);
                dir.insert(Arc::clone(topic), counts);
                true
            }
        };
        drop(dir);
        if changed && delta < 0 {
            if let Some(history) = &self.history {
                history.forget_if_unused(topic, || self.subscribers(topic) > 0);
            }
        }
        // Outside the lock: the relay reads the directory when it acts, so
        // notes that cross each other still end in the right state.
        if let (true, Some(relay)) = (changed, &self.relay) {
            relay.topic_changed(topic);
        }
    }

    /// The topics with subscribers over all workers, a snapshot: how many,
    /// and the `limit` with the most subscribers (ties by name), most
    /// first. One walk over every topic under the directory's read lock
    /// (the sort comes after it): a topic gained or emptied meanwhile
    /// waits for the walk, and so do the publishes behind that, so this
    /// is for an operator's query, not for every message.
    pub(crate) fn topic_counts(&self, limit: usize) -> TopicCounts {
        let mut busiest: Vec<(Arc<str>, usize)> = {
            let dir = self
                .directory
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            dir.iter()
                .map(|(name, counts)| {
                    let n = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
                    (Arc::clone(name), n)
                })
                .filter(|&(_, n)| n > 0)
                .collect()
        };
        let total = busiest.len();
        let order = |a: &(Arc<str>, usize), b: &(Arc<str>, usize)| {
            b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))
        };
        if limit < busiest.len() {
            busiest.select_nth_unstable_by(limit, order);
            busiest.truncate(limit);
        }
        busiest.sort_unstable_by(order);
        TopicCounts { total, busiest }
    }

    /// Subscribers of `topic` over all workers (a snapshot).
    pub(crate) fn subscribers(&self, topic: &str) -> usize {
        let dir = self
            .directory
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        dir.get(topic)
            .map_or(0, |c| c.iter().map(|c| c.load(Ordering::Relaxed)).sum())
    }

    /// Hands `frame` to every worker but `from` with subscribers of
    /// `topic`, but not to the connection `skip`; returns their subscriber
    /// count (those of workers whose inbox was full not included).
    pub(crate) fn route(
        &self,
        topic: &str,
        frame: &SharedFrame,
        from: Option<usize>,
        skip: Option<Skip>,
    ) -> usize {
        let Some(inboxes) = self.inboxes.get() else {
            return 0; // not running yet
        };
        let dir = self
            .directory
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some((name, counts)) = dir.get_key_value(topic) else {
            return 0;
        };
        let mut reached = 0;
        for (worker, count) in counts.iter().enumerate() {
            let count = count.load(Ordering::Relaxed);
            if count == 0 || Some(worker) == from {
                continue;
            }
            let envelope = Envelope {
                topic: Arc::clone(name),
                frame: frame.clone(),
                tag: Tag::Plain,
                skip: skip
                    .filter(|s| s.worker == worker)
                    .map(|s| (s.slot, s.stamp)),
            };
            if self.push(&inboxes[worker], worker, envelope) {
                reached += count;
            }
        }
        reached
    }

    /// Delivers a message that has no id although the server keeps
    /// history, because a relay is configured (ids come from the broker
    /// only): to every worker with subscribers, the publishing one too,
    /// tagged subscribers getting the tagged form without `"id"`. It is not
    /// kept, and resumes from before it are not exact
    /// ([`Histories::note_unstamped`]). Without history, as
    /// [`route`](Self::route) to every worker.
    pub(crate) fn route_unstamped(
        &self,
        topic: &str,
        frame: &SharedFrame,
        skip: Option<Skip>,
    ) -> usize {
        let Some(history) = &self.history else {
            return self.route(topic, frame, None, skip);
        };
        history.note_unstamped(topic);
        let text = history::envelope(topic, None, frame.kind(), frame.payload());
        let tagged = SharedFrame::new(MessageKind::Text, text.as_bytes());
        self.route_tagged(topic, skip, || {
            let tag = Tag::NoId {
                tagged: tagged.clone(),
            };
            (frame.clone(), tag)
        })
    }

    /// Publishes with history: assigns the id, keeps the message and hands
    /// it to every worker with subscribers, the publishing one included
    /// (`skip` names a connection there not to deliver to), under the
    /// topic's lock, so every worker sees the topic in id order. Returns
    /// the subscribers reached, as [`route`](Self::route).
    pub(crate) fn publish_stamped(
        &self,
        history: &Histories,
        topic: &str,
        frame: &SharedFrame,
        skip: Option<Skip>,
        now: Instant,
    ) -> usize {
        let (reached, emptied) = history.publish(topic, frame, now, |name, message| {
            self.route_stamped(name, message, skip)
        });
        self.forget(history, emptied);
        reached
    }

    /// Takes a message whose epoch and id were assigned elsewhere (a
    /// broker): see [`Histories::ingest`]. `None` for a duplicate. `skip`
    /// names a connection of this instance not to deliver to.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ingest(
        &self,
        history: &Histories,
        topic: &str,
        epoch: &str,
        id: u64,
        frame: &SharedFrame,
        skip: Option<Skip>,
        now: Instant,
    ) -> Option<usize> {
        let (reached, emptied) =
            history.ingest(topic, epoch, id, frame, now, |name, message, shift| {
                if let Some(shift) = &shift {
                    self.route_shift(name, shift);
                }
                self.route_stamped(name, message, skip)
            });
        self.forget(history, emptied);
        reached
    }

    /// Forgets the logs the byte bound emptied, unless subscribed.
    fn forget(&self, history: &Histories, emptied: Vec<Arc<str>>) {
        for topic in emptied {
            history.forget_if_unused(&topic, || self.subscribers(&topic) > 0);
        }
    }

    fn route_stamped(&self, name: &Arc<str>, message: &Stamped, skip: Option<Skip>) -> usize {
        self.route_tagged(name, skip, || {
            let tag = Tag::Id {
                id: message.id,
                tagged: message.tagged.clone(),
            };
            (message.plain.clone(), tag)
        })
    }

    /// Hands every worker with subscribers of `topic` what `make` makes;
    /// returns the subscribers reached.
    fn route_tagged(
        &self,
        topic: &str,
        skip: Option<Skip>,
        make: impl Fn() -> (SharedFrame, Tag),
    ) -> usize {
        let Some(inboxes) = self.inboxes.get() else {
            return 0;
        };
        let dir = self
            .directory
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some((name, counts)) = dir.get_key_value(topic) else {
            return 0;
        };
        let mut reached = 0;
        for (worker, count) in counts.iter().enumerate() {
            let count = count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let (frame, tag) = make();
            let envelope = Envelope {
                topic: Arc::clone(name),
                frame,
                tag,
                skip: skip
                    .filter(|s| s.worker == worker)
                    .map(|s| (s.slot, s.stamp)),
            };
            if self.push(&inboxes[worker], worker, envelope) {
                reached += count;
            }
        }
        reached
    }

    /// Tells the workers how an ingested message changed its topic's run
    /// of ids, ahead of the message.
    fn route_shift(&self, name: &Arc<str>, shift: &Shift) {
        let (text, anchored) = match shift {
            Shift::Anchored { epoch, last } => (history::notice_of(name, epoch, *last, None), true),
            Shift::Broken => (String::new(), false),
        };
        let frame = SharedFrame::new(MessageKind::Text, text.as_bytes());
        self.route_tagged(name, None, || {
            let tag = if anchored { Tag::Anchored } else { Tag::Broken };
            (frame.clone(), tag)
        });
    }

    fn push(&self, inbox: &Inbox, worker: usize, envelope: Envelope) -> bool {
        let len = envelope.wire_len();
        // A change in a topic's run of ids is no publish, and is never
        // skipped: without it the worker's tagged subscribers would go on
        // with the old run's floors and miss the new one's messages unseen.
        let shift = matches!(envelope.tag, Tag::Anchored | Tag::Broken | Tag::Missed);
        {
            let mut queue = inbox.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.bytes + len > self.max_inbox_bytes && !queue.items.is_empty() && !shift {
                // Subscribers with ids would take the next id for the one
                // after this and resume past it: a mark in its place
                // closes them there. One per topic until the worker takes
                // the queue, so the marks stay as few as the topics.
                if matches!(envelope.tag, Tag::Id { .. }) && !queue.missed.contains(&envelope.topic)
                {
                    queue.missed.insert(Arc::clone(&envelope.topic));
                    queue.items.push(Envelope {
                        topic: envelope.topic,
                        frame: SharedFrame::new(MessageKind::Text, b""),
                        tag: Tag::Missed,
                        skip: None,
                    });
                }
                drop(queue);
                self.counters[worker]
                    .inbox_dropped
                    .fetch_add(1, Ordering::Relaxed);
                return false;
            }
            queue.bytes += len;
            queue.items.push(envelope);
        }
        if !inbox.notified.swap(true, Ordering::AcqRel) {
            let _ = inbox.waker.wake();
        }
        true
    }

    /// Takes what waits for `worker`, leaving `spare` (emptied) in its
    /// place so that neither side allocates in the steady state.
    pub(crate) fn take_inbox(&self, worker: usize, spare: &mut Vec<Envelope>) {
        let Some(inbox) = self.inboxes.get().and_then(|i| i.get(worker)) else {
            return;
        };
        inbox.notified.store(false, Ordering::Release);
        spare.clear();
        let mut queue = inbox.queue.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut queue.items, spare);
        queue.bytes = 0;
        queue.missed.clear();
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut s = Stats {
            published: self.published.load(Ordering::Relaxed),
            ..Stats::default()
        };
        for c in self.counters.iter() {
            s.published += c.published.load(Ordering::Relaxed);
            s.delivered += c.delivered.load(Ordering::Relaxed);
            s.dropped_slow += c.dropped_slow.load(Ordering::Relaxed);
            s.closed_slow += c.closed_slow.load(Ordering::Relaxed);
            s.refused += c.refused.load(Ordering::Relaxed);
            s.compressed += c.compressed.load(Ordering::Relaxed);
            s.inbox_dropped += c.inbox_dropped.load(Ordering::Relaxed);
            s.connections += c.connections.load(Ordering::Relaxed);
            s.subscriptions += c.subscriptions.load(Ordering::Relaxed);
            s.topics += c.topics.load(Ordering::Relaxed);
        }
        if let Some(history) = &self.history {
            (s.history_topics, s.history_messages, s.history_bytes) = history.usage();
        }
        if let Some(relay) = &self.relay {
            s.broker = relay.stats();
        }
        s
    }
}

fn add(counter: &AtomicUsize, delta: isize) {
    if delta >= 0 {
        counter.fetch_add(delta as usize, Ordering::Relaxed);
    } else {
        counter.fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::MessageKind;

    fn envelope(topic: &str, tag: Tag, skip: Option<(usize, u64)>) -> Envelope {
        Envelope {
            topic: Arc::from(topic),
            frame: SharedFrame::new(MessageKind::Text, b"plain"),
            tag,
            skip,
        }
    }

    fn tagged(len: usize) -> SharedFrame {
        SharedFrame::new(MessageKind::Text, &vec![b'{'; len])
    }

    #[test]
    fn a_full_inbox_still_takes_a_broken_run_of_ids() {
        // One byte of inbox: after the first envelope, every publish skips
        // the worker. A break in the run of ids is no publish: if it were
        // skipped, the worker's tagged subscribers would not be closed,
        // and their floors (ids of the old epoch) would silently swallow
        // the new epoch's messages.
        let hub = Hub::new(1, 1, Some(HistoryLimits::default()), None);
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).unwrap());
        hub.set_wakers(vec![waker]);
        let topic: Arc<str> = Arc::from("t");
        hub.count(&topic, 0, 1);
        let history = hub.history.as_ref().unwrap();
        let frame = SharedFrame::new(MessageKind::Text, b"m");
        let now = Instant::now();
        assert!(hub
            .ingest(history, "t", "X", 1, &frame, None, now)
            .is_some());
        assert!(hub
            .ingest(history, "t", "Y", 1, &frame, None, now)
            .is_some());
        let mut inbox = Vec::new();
        hub.take_inbox(0, &mut inbox);
        let tags: Vec<&str> = inbox
            .iter()
            .map(|e| match e.tag {
                Tag::Anchored => "anchored",
                Tag::Broken => "broken",
                Tag::Missed => "missed",
                _ => "message",
            })
            .collect();
        assert_eq!(
            tags,
            ["anchored", "missed", "broken"],
            "the messages are skipped, their subscribers with ids told"
        );
        assert!(hub.counters[0].inbox_dropped.load(Ordering::Relaxed) >= 2);
    }

    #[test]
    fn a_run_takes_one_audience_and_kind_and_counts_the_larger_form() {
        let plain = envelope("t", Tag::Plain, None);
        let id = |id| {
            envelope(
                "t",
                Tag::Id {
                    id,
                    tagged: tagged(300),
                },
                None,
            )
        };
        let no_id = envelope("t", Tag::NoId { tagged: tagged(1) }, None);
        assert!(plain.continues_run(&envelope("t", Tag::Plain, None)));
        assert!(!plain.continues_run(&envelope("u", Tag::Plain, None)));
        assert!(!plain.continues_run(&envelope("t", Tag::Plain, Some((1, 1)))));
        assert!(!plain.continues_run(&id(1)), "plain and tagged apart");
        assert!(id(1).continues_run(&id(2)));
        assert!(id(1).continues_run(&no_id));
        assert!(!id(1).continues_run(&envelope("t", Tag::Anchored, None)));
        assert!(!envelope("t", Tag::Broken, None).continues_run(&id(1)));
        assert_eq!(plain.run_len(), plain.frame.wire_len());
        assert_eq!(id(1).run_len(), tagged(300).wire_len(), "the tagged form");
        assert_eq!(no_id.run_len(), plain.frame.wire_len(), "the plain form");
    }
}
