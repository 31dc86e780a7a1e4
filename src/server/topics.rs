//! Subscriptions of one worker's connections (which connections get what
//! is published to a topic) and what a subscriber that falls behind gets
//! (the slow-subscriber policy).
//!
//! Each worker keeps its own table and nothing in it is shared, so
//! subscribing, unsubscribing and fan-out take no lock. Both directions are
//! indexed: a topic lists its members and each connection lists its
//! subscriptions, each entry knowing its twin's position, so any
//! unsubscribe (a close ends them all) is O(subscriptions of that
//! connection), whatever the topic's size.

use std::collections::HashMap;
use std::fmt;
use std::prelude::rust_2021::*;
use std::sync::Arc;

use slab::Slab;

use super::publication::{Publication, Sent};
use super::ServerConfig;
use crate::close::{CloseCode, CloseReason};
use crate::connection::{Sender, SHARED_FRAME_OVERHEAD};

/// What happens to a published message for a subscriber whose queued
/// output is over
/// [`ServerConfig::slow_subscriber_limit`](super::ServerConfig::slow_subscriber_limit).
/// Either way the publisher is not blocked and the other subscribers are
/// not delayed; both are counted in [`Stats`](super::Stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowSubscriber {
    /// The subscriber misses the message (counted in
    /// [`Stats::dropped_slow`](super::Stats::dropped_slow)); it stays
    /// connected and gets later messages once it has caught up. Suits
    /// dashboards, where the next value replaces the last. The default, as
    /// in uWebSockets. A subscriber with ids
    /// ([`Peer::subscribe_with_ids`](super::Peer::subscribe_with_ids)) is
    /// closed as with [`Close`](Self::Close) instead: a gap in its ids
    /// would go unnoticed, its resume passing over what it missed.
    #[default]
    Drop,
    /// The subscriber is closed with 1013 (try again later), after what is
    /// already queued, so it knows it missed something and can reconnect.
    /// Suits chats, where a gap must not pass unnoticed.
    Close,
}

/// What [`offer`] did with a publication's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// `queued` were queued. `refused` were not, because the connection
    /// is closing or its output bound is reached: a refused message and
    /// those after it wait for no one.
    Queued { queued: u64, refused: u64 },
    /// This many were dropped: the subscriber is slow.
    Dropped(u64),
    /// The subscriber is slow and is now closing: `queued` were queued
    /// before the close, `refused` not.
    Closed { queued: u64, refused: u64 },
}

/// Whether a subscriber's queued output is over the slow-subscriber limit.
/// Queued frames' bookkeeping counts too, or a flood of tiny messages would
/// hold far more memory than the limit says.
pub(crate) fn is_behind(tx: &Sender, config: &ServerConfig) -> bool {
    let queued = tx.pending_output_len() + tx.queued_shared_frames() * SHARED_FRAME_OVERHEAD;
    queued > config.slow_subscriber_limit
}

/// Queues a publication's messages to one subscriber, applying the
/// slow-subscriber policy. A driver that can write should try to before
/// calling this on a subscriber that [`is_behind`]: a burst published in
/// one turn is not the subscriber's fault.
///
/// A subscriber with ids (`gapless`) is closed instead of missing a
/// message, whatever the policy: its client takes the ids it sees as
/// complete and would resume past a dropped one, never to get it. Closed
/// with 1013, it resumes from the last id it got, and the history fills
/// the gap or says it cannot.
pub(crate) fn offer(
    tx: &mut Sender,
    message: &mut Publication<'_>,
    config: &ServerConfig,
    gapless: bool,
) -> Offer {
    offer_some(tx, message, |_| true, config, gapless)
}

/// [`offer`], of the messages whose index `keep` accepts.
pub(crate) fn offer_some(
    tx: &mut Sender,
    message: &mut Publication<'_>,
    keep: impl Fn(usize) -> bool,
    config: &ServerConfig,
    gapless: bool,
) -> Offer {
    let messages = (0..message.len()).filter(|&i| keep(i)).count() as u64;
    if messages == 0 {
        return Offer::Queued {
            queued: 0,
            refused: 0,
        };
    }
    let close_slow = |tx: &mut Sender, refused: u64| match tx.close(
        CloseCode::TRY_AGAIN_LATER,
        CloseReason::truncate("subscriber too slow"),
    ) {
        Ok(()) => Offer::Closed {
            queued: messages - refused,
            refused,
        },
        // Already closing.
        Err(_) => Offer::Queued {
            queued: messages - refused,
            refused,
        },
    };
    if is_behind(tx, config) {
        return match config.slow_subscriber {
            SlowSubscriber::Drop if !gapless => Offer::Dropped(messages),
            _ => close_slow(tx, messages),
        };
    }
    let sent = if messages == message.len() as u64 {
        message.send(tx)
    } else {
        message.send_some(tx, keep)
    };
    let Sent { queued, refused } = sent;
    let refused = if refused { messages - queued } else { 0 };
    if gapless && refused > 0 {
        // The output bound refused some: a gap as much as a drop.
        return close_slow(tx, refused);
    }
    Offer::Queued { queued, refused }
}

/// Bounds on topic names and subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicLimits {
    /// Longest topic name in bytes (UTF-8). Default 128.
    pub max_name_len: usize,
    /// Most topics one connection may subscribe to. Default 64.
    pub max_per_connection: usize,
}

impl Default for TopicLimits {
    fn default() -> Self {
        TopicLimits {
            max_name_len: 128,
            max_per_connection: 64,
        }
    }
}

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`TopicLimits::max_name_len`] bytes.
    TooLong,
    /// The name holds a control character (C0, DEL or C1).
    ControlCharacter,
    /// The connection already has [`TopicLimits::max_per_connection`]
    /// subscriptions.
    TooManySubscriptions,
    /// Ids and resume were asked for, and the server keeps no history
    /// ([`ServerConfig::history`](super::ServerConfig::history)).
    NoHistory,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TopicError::Empty => "topic name is empty",
            TopicError::TooLong => "topic name is too long",
            TopicError::ControlCharacter => "topic name holds a control character",
            TopicError::TooManySubscriptions => "too many subscriptions on this connection",
            TopicError::NoHistory => "this server keeps no topic history (no ids, no resume)",
        })
    }
}

impl std::error::Error for TopicError {}

/// Checks a topic name: 1 to `max_len` bytes of UTF-8 without control
/// characters. Any other character is allowed (`/`, spaces, any script).
pub fn check_topic_name(name: &str, max_len: usize) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::Empty);
    }
    if name.len() > max_len {
        return Err(TopicError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(TopicError::ControlCharacter);
    }
    Ok(())
}

/// A connection in a topic's member list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    /// The connection's slot in the worker.
    pub(crate) slot: u32,
    /// Where this subscription sits in the connection's list.
    sub: u32,
    /// How it gets messages.
    pub(crate) mode: Mode,
}

/// How a subscriber gets published messages: whether in the tagged form
/// (a JSON envelope with topic and id) rather than as published, and the
/// id at or below which messages are skipped (they were replayed, or
/// published before it subscribed). Packed in one word, the flag in the top
/// bit (ids stay far below 2^63), so that a member takes 16 bytes: fan-out
/// walks these lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Mode(u64);

impl Mode {
    const TAGGED: u64 = 1 << 63;

    pub(crate) fn new(tagged: bool, floor: u64) -> Mode {
        Mode(floor.min(!Self::TAGGED) | if tagged { Self::TAGGED } else { 0 })
    }

    pub(crate) fn tagged(self) -> bool {
        self.0 & Self::TAGGED != 0
    }

    pub(crate) fn floor(self) -> u64 {
        self.0 & !Self::TAGGED
    }
}

/// A topic in a connection's subscription list.
#[derive(Debug, Clone, Copy)]
struct Sub {
    topic: u32,
    /// Where the connection sits in the topic's member list.
    member: u32,
}

struct Topic {
    name: Arc<str>,
    members: Vec<Member>,
}

/// What a subscribe changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscribed {
    /// The topic's name, shared with the table.
    pub(crate) name: Arc<str>,
    /// False if the connection was already subscribed.
    pub(crate) added: bool,
}

/// One worker's subscriptions.
#[derive(Default)]
pub(crate) struct Topics {
    by_name: HashMap<Arc<str>, u32>,
    topics: Slab<Topic>,
    /// Subscriptions of each connection slot.
    by_conn: Vec<Vec<Sub>>,
    /// Subscriptions in all.
    count: usize,
}

impl Topics {
    /// Subscribes the connection in `slot` to `name` (checked against
    /// `limits`).
    pub(crate) fn subscribe(
        &mut self,
        slot: usize,
        name: &str,
        limits: &TopicLimits,
    ) -> Result<Subscribed, TopicError> {
        self.subscribe_as(slot, name, limits, Mode::default())
    }

    /// Subscribes as [`subscribe`](Self::subscribe), in `mode` (kept as it
    /// was if the connection was already subscribed).
    pub(crate) fn subscribe_as(
        &mut self,
        slot: usize,
        name: &str,
        limits: &TopicLimits,
        mode: Mode,
    ) -> Result<Subscribed, TopicError> {
        check_topic_name(name, limits.max_name_len)?;
        if let Some(&id) = self.by_name.get(name) {
            let topic = &self.topics[id as usize];
            if self.subs(slot).iter().any(|s| s.topic == id) {
                return Ok(Subscribed {
                    name: Arc::clone(&topic.name),
                    added: false,
                });
            }
        }
        if self.subs(slot).len() >= limits.max_per_connection {
            return Err(TopicError::TooManySubscriptions);
        }
        let id = match self.by_name.get(name) {
            Some(&id) => id,
            None => {
                let name: Arc<str> = Arc::from(name);
                let id = self.topics.insert(Topic {
                    name: Arc::clone(&name),
                    members: Vec::new(),
                }) as u32;
                self.by_name.insert(name, id);
                id
            }
        };
        if self.by_conn.len() <= slot {
            self.by_conn.resize_with(slot + 1, Vec::new);
        }
        let subs = &mut self.by_conn[slot];
        let topic = &mut self.topics[id as usize];
        subs.push(Sub {
            topic: id,
            member: topic.members.len() as u32,
        });
        topic.members.push(Member {
            slot: slot as u32,
            sub: (subs.len() - 1) as u32,
            mode,
        });
        self.count += 1;
        Ok(Subscribed {
            name: Arc::clone(&topic.name),
            added: true,
        })
    }

    /// Unsubscribes the connection in `slot` from `name`. Returns the
    /// topic's name if it was subscribed, and whether the topic is now
    /// empty on this worker (and gone from the table).
    pub(crate) fn unsubscribe(&mut self, slot: usize, name: &str) -> Option<(Arc<str>, bool)> {
        let id = *self.by_name.get(name)?;
        let index = self.subs(slot).iter().position(|s| s.topic == id)?;
        Some(self.remove_sub(slot, index))
    }

    /// Ends every subscription of the connection in `slot` (it closed),
    /// calling `left(name, emptied)` for each.
    pub(crate) fn unsubscribe_all(&mut self, slot: usize, mut left: impl FnMut(Arc<str>, bool)) {
        while !self.subs(slot).is_empty() {
            let (name, emptied) = self.remove_sub(slot, self.subs(slot).len() - 1);
            left(name, emptied);
        }
        if let Some(subs) = self.by_conn.get_mut(slot) {
            *subs = Vec::new(); // the slot goes to another connection next
        }
    }

    /// The members of `name` on this worker (empty if none).
    pub(crate) fn members(&self, name: &str) -> &[Member] {
        match self.by_name.get(name) {
            Some(&id) => &self.topics[id as usize].members,
            None => &[],
        }
    }

    /// The table's own copy of `name`, if the topic has members here.
    pub(crate) fn name(&self, name: &str) -> Option<&Arc<str>> {
        self.by_name.get_key_value(name).map(|(k, _)| k)
    }

    /// Whether the connection in `slot` is subscribed to `name`.
    pub(crate) fn is_subscribed(&self, slot: usize, name: &str) -> bool {
        match self.by_name.get(name) {
            Some(&id) => self.subs(slot).iter().any(|s| s.topic == id),
            None => false,
        }
    }

    /// The topics the connection in `slot` is subscribed to, in the order
    /// it subscribed (as long as it did not unsubscribe from any).
    pub(crate) fn subscriptions(&self, slot: usize) -> impl Iterator<Item = &Arc<str>> + '_ {
        self.subs(slot)
            .iter()
            .map(|s| &self.topics[s.topic as usize].name)
    }

    /// Topics with at least one member on this worker.
    pub(crate) fn len(&self) -> usize {
        self.topics.len()
    }

    /// Subscriptions on this worker.
    pub(crate) fn subscription_count(&self) -> usize {
        self.count
    }

    fn subs(&self, slot: usize) -> &[Sub] {
        self.by_conn.get(slot).map_or(&[], Vec::as_slice)
    }

    /// Removes subscription `index` of `slot` from both lists, mending the
    /// twins of the entries that move into the holes.
    fn remove_sub(&mut self, slot: usize, index: usize) -> (Arc<str>, bool) {
        self.count -= 1;
        let subs = &mut self.by_conn[slot];
        let sub = subs.swap_remove(index);
        if let Some(moved) = subs.get(index) {
            self.topics[moved.topic as usize].members[moved.member as usize].sub = index as u32;
        }
        let topic = &mut self.topics[sub.topic as usize];
        let member = sub.member as usize;
        topic.members.swap_remove(member);
        if let Some(moved) = topic.members.get(member).copied() {
            self.by_conn[moved.slot as usize][moved.sub as usize].member = member as u32;
        }
        let name = Arc::clone(&topic.name);
        let emptied = topic.members.is_empty();
        if emptied {
            self.by_name.remove(&name);
            self.topics.remove(sub.topic as usize);
        }
        (name, emptied)
    }

    /// Checks that both directions agree (tests).
    #[cfg(test)]
    fn check(&self) {
        for (id, topic) in &self.topics {
            assert!(!topic.members.is_empty(), "empty topic kept");
            assert_eq!(self.by_name[&topic.name], id as u32);
            for (i, m) in topic.members.iter().enumerate() {
                let sub = self.by_conn[m.slot as usize][m.sub as usize];
                assert_eq!((sub.topic, sub.member), (id as u32, i as u32));
            }
        }
        for (slot, subs) in self.by_conn.iter().enumerate() {
            for (i, s) in subs.iter().enumerate() {
                let m = self.topics[s.topic as usize].members[s.member as usize];
                assert_eq!((m.slot, m.sub), (slot as u32, i as u32));
            }
        }
        assert_eq!(self.by_name.len(), self.topics.len());
        let members: usize = self.topics.iter().map(|(_, t)| t.members.len()).sum();
        assert_eq!(self.count, members);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(t: &Topics, name: &str) -> Vec<u32> {
        let mut v: Vec<u32> = t.members(name).iter().map(|m| m.slot).collect();
        v.sort_unstable();
        v
    }

    /// Three published messages of 100 bytes.
    fn three_frames() -> Vec<crate::connection::SharedFrame> {
        use crate::connection::{MessageKind, SharedFrame};
        (0..3)
            .map(|_| SharedFrame::new(MessageKind::Text, &[b'x'; 100]))
            .collect()
    }

    /// A connection whose output holds at most 300 bytes.
    fn bounded() -> crate::connection::Connection {
        use crate::connection::{Config, Connection};
        Connection::server(Config {
            limits: crate::Limits {
                max_output_buffer: 300,
                ..crate::Limits::default()
            },
            ..Config::default()
        })
    }

    #[test]
    fn offers_count_what_the_output_bound_or_a_close_refuses() {
        use super::super::SlowSubscriber;
        let frames = three_frames();
        let mut publication = Publication::new(&frames);
        let config = ServerConfig::default();
        let mut c = bounded();
        assert_eq!(
            offer(&mut c, &mut publication, &config, false),
            Offer::Queued {
                queued: 2,
                refused: 1
            },
            "two of 102 bytes plus overhead fit in 300"
        );
        assert_eq!(
            offer_some(&mut c, &mut publication, |i| i == 2, &config, false),
            Offer::Queued {
                queued: 0,
                refused: 1
            }
        );
        c.close(CloseCode::NORMAL, CloseReason::truncate(""))
            .unwrap();
        assert_eq!(
            offer(&mut c, &mut publication, &config, false),
            Offer::Queued {
                queued: 0,
                refused: 3
            },
            "nothing after a close"
        );

        // Over the slow-subscriber limit with the close policy, but
        // already closing: refused, not closed twice.
        let strict = ServerConfig {
            slow_subscriber: SlowSubscriber::Close,
            slow_subscriber_limit: 0,
            ..ServerConfig::default()
        };
        let mut d = bounded();
        assert_eq!(
            offer(&mut d, &mut publication, &strict, false),
            Offer::Queued {
                queued: 2,
                refused: 1
            }
        );
        assert_eq!(
            offer(&mut d, &mut publication, &strict, false),
            Offer::Closed {
                queued: 0,
                refused: 3
            }
        );
        assert_eq!(
            offer(&mut d, &mut publication, &strict, false),
            Offer::Queued {
                queued: 0,
                refused: 3
            }
        );
    }

    #[test]
    fn a_subscriber_with_ids_is_closed_rather_than_left_with_a_gap() {
        let frames = three_frames();
        let mut publication = Publication::new(&frames);
        // The output bound refuses the third: closed after the two.
        let config = ServerConfig::default();
        let mut c = bounded();
        assert_eq!(
            offer(&mut c, &mut publication, &config, true),
            Offer::Closed {
                queued: 2,
                refused: 1
            }
        );
        assert_eq!(
            offer(&mut c, &mut publication, &config, true),
            Offer::Queued {
                queued: 0,
                refused: 3
            },
            "closing already"
        );
        // Behind, under the drop policy: closed, not dropped.
        let behind = ServerConfig {
            slow_subscriber_limit: 0,
            ..ServerConfig::default()
        };
        let mut d = bounded();
        d.send_text("x").unwrap();
        assert_eq!(
            offer(&mut d, &mut publication, &behind, false),
            Offer::Dropped(3)
        );
        assert_eq!(
            offer(&mut d, &mut publication, &behind, true),
            Offer::Closed {
                queued: 0,
                refused: 3
            }
        );
    }

    #[test]
    fn members_stay_small() {
        assert_eq!(std::mem::size_of::<Member>(), 16);
        let m = Mode::new(true, 41);
        assert!(m.tagged() && m.floor() == 41);
        let m = Mode::new(false, u64::MAX);
        assert!(!m.tagged() && m.floor() == (1 << 63) - 1);
        assert_eq!(Mode::default(), Mode::new(false, 0));
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_topic_name("", 8), Err(TopicError::Empty));
        assert_eq!(check_topic_name("123456789", 8), Err(TopicError::TooLong));
        assert_eq!(
            check_topic_name("a\nb", 8),
            Err(TopicError::ControlCharacter)
        );
        assert_eq!(
            check_topic_name("a\u{7f}", 8),
            Err(TopicError::ControlCharacter)
        );
        assert_eq!(
            check_topic_name("a\u{85}", 8),
            Err(TopicError::ControlCharacter)
        );
        assert_eq!(check_topic_name("news/eu 1", 16), Ok(()));
        assert_eq!(check_topic_name("聊天室", 9), Ok(()));
        assert_eq!(check_topic_name("聊天室", 8), Err(TopicError::TooLong));
    }

    #[test]
    fn subscribe_unsubscribe_and_close() {
        let limits = TopicLimits::default();
        let mut t = Topics::default();
        assert!(t.subscribe(3, "a", &limits).unwrap().added);
        assert!(t.subscribe(5, "a", &limits).unwrap().added);
        assert!(
            !t.subscribe(3, "a", &limits).unwrap().added,
            "twice is once"
        );
        assert!(t.subscribe(3, "b", &limits).unwrap().added);
        t.check();
        assert_eq!(slots(&t, "a"), [3, 5]);
        assert!(t.is_subscribed(3, "b") && !t.is_subscribed(5, "b"));
        let names: Vec<&str> = t.subscriptions(3).map(|n| &**n).collect();
        assert_eq!(names, ["a", "b"]);

        assert_eq!(t.unsubscribe(3, "a"), Some((Arc::from("a"), false)));
        assert_eq!(t.unsubscribe(3, "a"), None);
        assert_eq!(t.unsubscribe(9, "a"), None);
        t.check();
        assert_eq!(slots(&t, "a"), [5]);

        let mut left = Vec::new();
        t.unsubscribe_all(3, |name, emptied| left.push((name.to_string(), emptied)));
        assert_eq!(left, [("b".to_string(), true)]);
        t.check();
        assert_eq!(t.len(), 1);
        assert!(t.members("b").is_empty());
    }

    #[test]
    fn limits_hold() {
        let limits = TopicLimits {
            max_name_len: 4,
            max_per_connection: 2,
        };
        let mut t = Topics::default();
        t.subscribe(0, "a", &limits).unwrap();
        t.subscribe(0, "b", &limits).unwrap();
        assert_eq!(
            t.subscribe(0, "c", &limits),
            Err(TopicError::TooManySubscriptions)
        );
        assert!(
            !t.subscribe(0, "a", &limits).unwrap().added,
            "resubscribing is fine"
        );
        assert_eq!(t.subscribe(1, "toolong", &limits), Err(TopicError::TooLong));
        t.check();
    }

    #[test]
    fn random_churn_keeps_both_directions_in_step() {
        // A deterministic walk over subscribe / unsubscribe / close.
        let limits = TopicLimits {
            max_name_len: 8,
            max_per_connection: 5,
        };
        let mut t = Topics::default();
        let mut model: Vec<std::collections::BTreeSet<u32>> = vec![Default::default(); 8];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let slot = (x % 40) as usize;
            let topic = ((x >> 8) % 8) as u32;
            let name = format!("t{topic}");
            match (x >> 16) % 10 {
                0..=5 => {
                    if t.subscribe(slot, &name, &limits).is_ok() {
                        model[topic as usize].insert(slot as u32);
                    }
                }
                6..=8 => {
                    t.unsubscribe(slot, &name);
                    model[topic as usize].remove(&(slot as u32));
                }
                _ => {
                    t.unsubscribe_all(slot, |_, _| {});
                    for m in &mut model {
                        m.remove(&(slot as u32));
                    }
                }
            }
        }
        t.check();
        for (topic, members) in model.iter().enumerate() {
            let want: Vec<u32> = members.iter().copied().collect();
            assert_eq!(slots(&t, &format!("t{topic}")), want);
        }
        assert_eq!(
            t.subscription_count(),
            model.iter().map(|m| m.len()).sum::<usize>()
        );
    }
}
