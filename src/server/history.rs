//! Topic history: message ids per topic, a bounded log of recent messages,
//! and resume (`since`) without gap or duplicate.
//!
//! Every topic with history has an *epoch* (a random string chosen when
//! its log is created) and a counter: the first message published to it
//! gets id 1, the next 2, and so on. An id means something only with its
//! epoch: a server that restarted, or a topic whose log was forgotten,
//! starts a new epoch at 1, and a client that resumes with an id of
//! another epoch is told it could not be recovered.
//!
//! Order: a publish assigns the id, appends to the log and hands the
//! message to every worker's inbox while it holds the topic's lock, so
//! every worker sees a topic's messages in id order whatever thread
//! published them. A subscribe with resume reads the log and registers
//! the subscription (the directory count that routes publishes to its
//! worker) under the same lock: every message after the replay reaches the
//! worker through its inbox with a larger id, and the worker skips live
//! messages at or below the replay's last id (which were already in its
//! inbox). One lock per publish or subscribe; never one per subscriber.
//!
//! Bounds: per topic the last [`HistoryLimits::max_messages`] messages no
//! older than [`HistoryLimits::max_age`]; in all, about
//! [`HistoryLimits::max_bytes`] over every topic (the oldest messages
//! server-wide go first). A log outlives its last subscriber (that is when
//! a resume needs it) and is forgotten once the bounds have emptied it and
//! nobody is subscribed.
//!
//! For a broker relaying between instances (ids assigned elsewhere, e.g.
//! atomically in Redis), [`Histories::ingest`] takes a message whose epoch
//! and id are already known, instead of [`Histories::publish`].

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::prelude::rust_2021::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::json;
use crate::connection::{MessageKind, SharedFrame};

/// Bookkeeping counted per kept message on top of its frames' bytes.
const ENTRY_OVERHEAD: usize = 96;

/// Bounds of the topic history
/// ([`ServerConfig::history`](super::ServerConfig::history)).
///
/// With history on, every message published to a topic gets an id: 1 for
/// the first, then 2, 3... An id means something only with the topic's
/// *epoch*, a random string chosen when the topic's history starts: a
/// restarted server, or a topic whose history was forgotten, starts a new
/// epoch at 1, and a resume from an id of another epoch is reported as not
/// recovered. A topic keeps the last `max_messages` messages no older than
/// `max_age`; over all topics, the oldest messages server-wide go first
/// once `max_bytes` is reached. A topic's history outlives its last
/// subscriber (that is when a resume needs it) and is forgotten once these
/// bounds have emptied it and nobody is subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Most messages kept per topic. 0 keeps none: messages still get
    /// ids, but only a resume from the newest id recovers. Default 1000.
    pub max_messages: usize,
    /// Messages older than this are not replayed and are dropped when the
    /// topic is next touched. Default 300 s; `None` keeps them until the
    /// other bounds push them out.
    pub max_age: Option<Duration>,
    /// Most bytes of history over all topics (frames plus about 100 bytes
    /// of bookkeeping per message); beyond it the oldest messages
    /// server-wide are dropped. Default 64 MiB.
    pub max_bytes: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits {
            max_messages: 1000,
            max_age: Some(Duration::from_secs(300)),
            max_bytes: 64 << 20,
        }
    }
}

/// Where a subscriber asks to resume: after message `id` of `epoch` (any
/// epoch when `None`, as a bare `?since=ID` asks). Id 0 asks for the whole
/// history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since<'a> {
    /// The last id the subscriber has.
    pub id: u64,
    /// The epoch that id belongs to, if the subscriber knows it.
    pub epoch: Option<&'a str>,
}

/// A published message with its id, in both forms a subscriber may get:
/// the payload as published (`plain`) and the JSON envelope with topic and
/// id (`tagged`), each encoded once.
#[derive(Clone)]
pub(crate) struct Stamped {
    pub(crate) id: u64,
    pub(crate) plain: SharedFrame,
    pub(crate) tagged: SharedFrame,
}

struct Entry {
    at: Instant,
    message: Stamped,
}

impl Entry {
    fn bytes(&self) -> usize {
        self.message.plain.wire_len() + self.message.tagged.wire_len() + ENTRY_OVERHEAD
    }
}

/// One topic's log.
struct Log {
    epoch: Arc<str>,
    /// The newest id given out (0: none yet).
    last: u64,
    entries: VecDeque<Entry>,
    bytes: usize,
    /// Removed from the map: a thread that looked it up before must look
    /// again.
    forgotten: bool,
}

impl Log {
    /// The first id a replay could start from: the oldest kept, or the
    /// next one when none is kept.
    fn first(&self) -> u64 {
        self.entries.front().map_or(self.last + 1, |e| e.message.id)
    }
}

/// What a subscribe found in the log, decided under the topic's lock.
#[derive(Debug)]
pub(crate) struct Replay {
    /// The topic's epoch.
    pub(crate) epoch: Arc<str>,
    /// The newest id at the time of the subscribe: live messages start
    /// after it.
    pub(crate) last: u64,
    /// Whether the subscriber's `since` was honoured exactly (no gap); None
    /// when it asked for none.
    pub(crate) recovered: Option<bool>,
    /// The messages to send before the live stream, oldest first, in the
    /// tagged form.
    pub(crate) frames: Vec<SharedFrame>,
}

/// The history of every topic: one per server, shared by the workers.
pub(crate) struct Histories {
    limits: HistoryLimits,
    logs: RwLock<HashMap<Arc<str>, Arc<Mutex<Log>>>>,
    /// Bytes kept over all logs.
    bytes: AtomicUsize,
    /// Held by the one thread trimming logs to the byte bound.
    trimming: Mutex<()>,
}

impl Histories {
    pub(crate) fn new(limits: HistoryLimits) -> Histories {
        Histories {
            limits,
            logs: RwLock::new(HashMap::new()),
            bytes: AtomicUsize::new(0),
            trimming: Mutex::new(()),
        }
    }

    /// Publishes a message (`plain`, as encoded for plain subscribers):
    /// assigns the topic's next id, keeps it, and calls `route(name,
    /// message)` (to hand it to the workers) while the topic's lock is
    /// held. Returns what `route` returns, and the topics whose logs the
    /// byte bound emptied (see [`forget_if_unused`](Self::forget_if_unused)).
    pub(crate) fn publish<R>(
        &self,
        topic: &str,
        plain: &SharedFrame,
        now: Instant,
        route: impl FnOnce(&Arc<str>, &Stamped) -> R,
    ) -> (R, Vec<Arc<str>>) {
        let result = self.with_log(topic, |name, log| {
            let message = stamp(name, log.last + 1, plain);
            self.append(log, now, &message);
            route(name, &message)
        });
        (result, self.trim_to_bytes())
    }

    /// Takes a message whose epoch and id were assigned elsewhere (a
    /// broker). A message of another epoch than the topic's starts that
    /// epoch (the log is emptied); one at or below the newest id is a
    /// duplicate and ignored (`None`). Otherwise it is kept and routed as
    /// in [`publish`](Self::publish). Ids may skip (a message another
    /// instance lost); a resume across the gap is reported as not
    /// recovered.
    ///
    /// A subscriber already on the topic when its epoch changes skips the
    /// new epoch's messages up to the id it had reached: a broker that
    /// restarts an epoch should close those subscribers (1012), so that
    /// they resume and are told.
    pub(crate) fn ingest<R>(
        &self,
        topic: &str,
        epoch: &str,
        id: u64,
        plain: &SharedFrame,
        now: Instant,
        route: impl FnOnce(&Arc<str>, &Stamped) -> R,
    ) -> (Option<R>, Vec<Arc<str>>) {
        let result = self.with_log(topic, |name, log| {
            if &*log.epoch != epoch {
                self.clear(log);
                log.last = 0;
                log.epoch = Arc::from(epoch);
            }
            if id <= log.last {
                return None;
            }
            if id > log.last + 1 {
                // What came before cannot be replayed as one run with it.
                self.clear(log);
                log.last = id - 1;
            }
            let message = stamp(name, id, plain);
            self.append(log, now, &message);
            Some(route(name, &message))
        });
        (result, self.trim_to_bytes())
    }

    /// Subscribes: under the topic's lock, reads what to replay after
    /// `since` and calls `register(name, last)`, which adds the
    /// subscription and counts it in the directory, and says whether it
    /// is new. `register` may refuse (a topic limit); nothing is replayed
    /// then, nor to a connection that was already subscribed.
    pub(crate) fn subscribe<E>(
        &self,
        topic: &str,
        since: Option<Since<'_>>,
        now: Instant,
        register: impl FnOnce(&Arc<str>, u64) -> Result<bool, E>,
    ) -> Result<Replay, E> {
        self.with_log(topic, |name, log| {
            self.expire(log, now);
            let added = register(name, log.last)?;
            let mut replay = Replay {
                epoch: Arc::clone(&log.epoch),
                last: log.last,
                recovered: None,
                frames: Vec::new(),
            };
            if let (Some(since), true) = (since, added) {
                let same_epoch = since.epoch.is_none_or(|e| e == &*log.epoch);
                let recovered =
                    same_epoch && since.id <= log.last && since.id.saturating_add(1) >= log.first();
                let after = if recovered { since.id } else { 0 };
                replay.recovered = Some(recovered);
                replay.frames = log
                    .entries
                    .iter()
                    .filter(|e| e.message.id > after)
                    .map(|e| e.message.tagged.clone())
                    .collect();
            }
            Ok(replay)
        })
    }

    /// Forgets the log of `topic` if it holds nothing and `in_use` says
    /// nobody is subscribed (asked under the log's lock, which subscribes
    /// hold too). Called when a topic's last subscriber leaves, and for
    /// the logs the byte bound emptied.
    pub(crate) fn forget_if_unused(&self, topic: &str, in_use: impl FnOnce() -> bool) {
        let mut logs = self.logs.write().unwrap_or_else(PoisonError::into_inner);
        let Some(log) = logs.get(topic).cloned() else {
            return;
        };
        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.entries.is_empty() && !in_use() {
            log.forgotten = true;
            logs.remove(topic);
        }
    }

    /// Topics with a log, and messages and bytes kept over all of them.
    pub(crate) fn usage(&self) -> (usize, usize, usize) {
        let logs = self.logs.read().unwrap_or_else(PoisonError::into_inner);
        let messages = logs
            .values()
            .map(|l| {
                l.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entries
                    .len()
            })
            .sum();
        (logs.len(), messages, self.bytes.load(Ordering::Relaxed))
    }

    /// Runs `f` on the log of `topic` (made, with a new epoch, if it has
    /// none) with its lock held.
    fn with_log<R>(&self, topic: &str, f: impl FnOnce(&Arc<str>, &mut Log) -> R) -> R {
        loop {
            let (name, log) = self.log(topic);
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            if log.forgotten {
                continue; // forgotten between the lookup and the lock
            }
            return f(&name, &mut log);
        }
    }

    fn log(&self, topic: &str) -> (Arc<str>, Arc<Mutex<Log>>) {
        {
            let logs = self.logs.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((name, log)) = logs.get_key_value(topic) {
                return (Arc::clone(name), Arc::clone(log));
            }
        }
        let mut logs = self.logs.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((name, log)) = logs.get_key_value(topic) {
            return (Arc::clone(name), Arc::clone(log));
        }
        let name: Arc<str> = Arc::from(topic);
        let log = Arc::new(Mutex::new(Log {
            epoch: new_epoch(),
            last: 0,
            entries: VecDeque::new(),
            bytes: 0,
            forgotten: false,
        }));
        logs.insert(Arc::clone(&name), Arc::clone(&log));
        (name, log)
    }

    fn append(&self, log: &mut Log, now: Instant, message: &Stamped) {
        log.last = message.id;
        self.expire(log, now);
        if self.limits.max_messages == 0 {
            return;
        }
        while log.entries.len() >= self.limits.max_messages {
            self.pop_oldest(log);
        }
        let entry = Entry {
            at: now,
            message: message.clone(),
        };
        let bytes = entry.bytes();
        log.bytes += bytes;
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        log.entries.push_back(entry);
    }

    /// Drops the messages older than the age bound.
    fn expire(&self, log: &mut Log, now: Instant) {
        let Some(age) = self.limits.max_age else {
            return;
        };
        while log
            .entries
            .front()
            .is_some_and(|e| now.saturating_duration_since(e.at) > age)
        {
            self.pop_oldest(log);
        }
    }

    fn clear(&self, log: &mut Log) {
        self.bytes.fetch_sub(log.bytes, Ordering::Relaxed);
        log.entries.clear();
        log.bytes = 0;
    }

    fn pop_oldest(&self, log: &mut Log) -> Option<Instant> {
        let entry = log.entries.pop_front()?;
        let bytes = entry.bytes();
        log.bytes -= bytes;
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        Some(entry.at)
    }

    /// Over the byte bound: drops the oldest messages server-wide until the
    /// total is back under seven eighths of it (so that trimming runs now
    /// and then, not on every publish). One thread trims at a time; the
    /// others go on.
    fn trim_to_bytes(&self) -> Vec<Arc<str>> {
        let mut emptied = Vec::new();
        let limit = self.limits.max_bytes;
        if self.bytes.load(Ordering::Relaxed) <= limit {
            return emptied;
        }
        let Ok(_trimming) = self.trimming.try_lock() else {
            return emptied;
        };
        let target = limit - limit / 8;
        let logs: Vec<(Arc<str>, Arc<Mutex<Log>>)> = {
            let logs = self.logs.read().unwrap_or_else(PoisonError::into_inner);
            logs.iter()
                .map(|(n, l)| (Arc::clone(n), Arc::clone(l)))
                .collect()
        };
        // Oldest first: a heap of each log's oldest message time.
        let mut heap: BinaryHeap<std::cmp::Reverse<(Instant, usize)>> = logs
            .iter()
            .enumerate()
            .filter_map(|(i, (_, log))| {
                let log = log.lock().unwrap_or_else(PoisonError::into_inner);
                log.entries.front().map(|e| std::cmp::Reverse((e.at, i)))
            })
            .collect();
        while self.bytes.load(Ordering::Relaxed) > target {
            let Some(std::cmp::Reverse((_, i))) = heap.pop() else {
                break;
            };
            let next = heap.peek().map(|r| r.0 .0);
            let mut log = logs[i].1.lock().unwrap_or_else(PoisonError::into_inner);
            // This log's messages up to the next log's oldest go first.
            while self.bytes.load(Ordering::Relaxed) > target {
                match log.entries.front() {
                    Some(e) if next.is_none_or(|n| e.at <= n) => {
                        self.pop_oldest(&mut log);
                    }
                    _ => break,
                }
            }
            match log.entries.front() {
                Some(e) => heap.push(std::cmp::Reverse((e.at, i))),
                None => emptied.push(Arc::clone(&logs[i].0)),
            }
        }
        emptied
    }
}

/// A new epoch: 64 random bits in hex, so that ids from before a restart
/// are never taken for today's.
fn new_epoch() -> Arc<str> {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: the clock still tells restarts apart.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes = nanos.to_be_bytes();
    }
    let mut s = String::with_capacity(16);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Arc::from(s)
}

/// A message with id `id` of `topic`: the tagged form encoded once.
fn stamp(topic: &str, id: u64, plain: &SharedFrame) -> Stamped {
    let tagged = envelope(topic, id, plain.kind(), plain.payload());
    Stamped {
        id,
        plain: plain.clone(),
        tagged: SharedFrame::new(MessageKind::Text, tagged.as_bytes()),
    }
}

/// The tagged form of a message (documented in the README): a text
/// payload as `{"topic":T,"id":N,"data":"..."}`, a binary one as
/// `{"topic":T,"id":N,"binary":"BASE64"}`.
pub(crate) fn envelope(topic: &str, id: u64, kind: MessageKind, payload: &[u8]) -> String {
    let mut out = String::with_capacity(payload.len() + topic.len() + 40);
    out.push_str("{\"topic\":");
    json::push_string(&mut out, topic);
    out.push_str(",\"id\":");
    out.push_str(&id.to_string());
    match (kind, std::str::from_utf8(payload)) {
        (MessageKind::Text, Ok(text)) => {
            out.push_str(",\"data\":");
            json::push_string(&mut out, text);
        }
        _ => {
            out.push_str(",\"binary\":\"");
            base64::engine::general_purpose::STANDARD.encode_string(payload, &mut out);
            out.push('"');
        }
    }
    out.push('}');
    out
}

/// The notice an id-mode subscriber gets first (documented in the README):
/// `{"type":"subscribed","topic":T,"epoch":E,"last":N}`, plus
/// `"recovered":true|false` when it asked to resume.
pub(crate) fn notice(topic: &str, replay: &Replay) -> String {
    let mut out = String::with_capacity(topic.len() + 80);
    out.push_str("{\"type\":\"subscribed\",\"topic\":");
    json::push_string(&mut out, topic);
    out.push_str(",\"epoch\":");
    json::push_string(&mut out, &replay.epoch);
    out.push_str(",\"last\":");
    out.push_str(&replay.last.to_string());
    if let Some(recovered) = replay.recovered {
        out.push_str(if recovered {
            ",\"recovered\":true"
        } else {
            ",\"recovered\":false"
        });
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(r: &Replay) -> Vec<u64> {
        r.frames
            .iter()
            .map(|f| {
                let v: serde_json::Value = serde_json::from_slice(f.payload()).unwrap();
                v["id"].as_u64().unwrap()
            })
            .collect()
    }

    fn publish(h: &Histories, topic: &str, text: &str, now: Instant) -> u64 {
        let frame = SharedFrame::new(MessageKind::Text, text.as_bytes());
        h.publish(topic, &frame, now, |_, m| m.id).0
    }

    fn resume(h: &Histories, topic: &str, id: u64, epoch: Option<&str>, now: Instant) -> Replay {
        h.subscribe(topic, Some(Since { id, epoch }), now, |_, _| {
            Ok::<bool, ()>(true)
        })
        .unwrap()
    }

    #[test]
    fn ids_start_at_one_and_resume_replays_exactly_what_follows() {
        let h = Histories::new(HistoryLimits::default());
        let t = Instant::now();
        assert_eq!(publish(&h, "a", "1", t), 1);
        assert_eq!(publish(&h, "a", "2", t), 2);
        assert_eq!(publish(&h, "b", "x", t), 1, "ids are per topic");
        assert_eq!(publish(&h, "a", "3", t), 3);
        let r = resume(&h, "a", 1, None, t);
        assert_eq!((r.last, r.recovered, ids(&r)), (3, Some(true), vec![2, 3]));
        let r = resume(&h, "a", 0, None, t);
        assert_eq!((r.recovered, ids(&r)), (Some(true), vec![1, 2, 3]));
        let r = resume(&h, "a", 3, Some(&r.epoch.clone()), t);
        assert_eq!((r.recovered, ids(&r)), (Some(true), vec![]));
        let fresh = h
            .subscribe("a", None, t, |_, last| {
                assert_eq!(last, 3);
                Ok::<bool, ()>(true)
            })
            .unwrap();
        assert_eq!((fresh.recovered, fresh.frames.len()), (None, 0));
    }

    #[test]
    fn what_cannot_be_recovered_is_said() {
        let limits = HistoryLimits {
            max_messages: 2,
            ..HistoryLimits::default()
        };
        let h = Histories::new(limits);
        let t = Instant::now();
        for i in 1..=5 {
            publish(&h, "a", &i.to_string(), t);
        }
        // Kept: 4, 5. From 3 on nothing is missing; from 2, 3 is gone.
        assert_eq!(resume(&h, "a", 3, None, t).recovered, Some(true));
        let r = resume(&h, "a", 2, None, t);
        assert_eq!((r.recovered, ids(&r)), (Some(false), vec![4, 5]));
        let r = resume(&h, "a", 9, None, t);
        assert_eq!((r.recovered, ids(&r)), (Some(false), vec![4, 5]), "ahead");
        let r = resume(&h, "a", 4, Some("another epoch"), t);
        assert_eq!((r.recovered, ids(&r)), (Some(false), vec![4, 5]));
    }

    #[test]
    fn age_and_bytes_bound_the_history() {
        let limits = HistoryLimits {
            max_messages: 1000,
            max_age: Some(Duration::from_secs(10)),
            max_bytes: 40 * (ENTRY_OVERHEAD + 200),
        };
        let h = Histories::new(limits);
        let t = Instant::now();
        publish(&h, "old", "x", t);
        let later = t + Duration::from_secs(11);
        publish(&h, "old", "y", later);
        let r = resume(&h, "old", 0, None, later);
        assert_eq!((r.recovered, ids(&r)), (Some(false), vec![2]), "1 aged out");
        // Many topics, one byte bound: the oldest go, the total holds.
        for i in 0..200u32 {
            let at = later + Duration::from_millis(u64::from(i));
            publish(&h, &format!("t{}", i % 7), &"z".repeat(50), at);
        }
        let (_, messages, bytes) = h.usage();
        assert!(bytes <= limits.max_bytes, "{bytes} > {}", limits.max_bytes);
        // Trimmed to 7/8 of the bound now and then, never far below it.
        assert!(
            messages < 100 && bytes >= limits.max_bytes / 2,
            "{messages} {bytes}"
        );
        let newest = resume(&h, "t3", 0, None, later + Duration::from_secs(1));
        assert!(!newest.frames.is_empty(), "the newest messages stay");
        let old = resume(&h, "old", 1, None, later + Duration::from_secs(1));
        assert_eq!(old.recovered, Some(false), "the oldest went first");
    }

    #[test]
    fn ingest_takes_ids_from_elsewhere() {
        let h = Histories::new(HistoryLimits::default());
        let t = Instant::now();
        let ingest = |id: u64, epoch: &str| {
            let frame = SharedFrame::new(MessageKind::Text, id.to_string().as_bytes());
            h.ingest("a", epoch, id, &frame, t, |_, m: &Stamped| m.id).0
        };
        assert_eq!(ingest(1, "e1"), Some(1));
        assert_eq!(ingest(2, "e1"), Some(2));
        assert_eq!(ingest(2, "e1"), None, "duplicate");
        let r = resume(&h, "a", 1, Some("e1"), t);
        assert_eq!((r.recovered, ids(&r)), (Some(true), vec![2]));
        assert_eq!(ingest(5, "e1"), Some(5));
        assert_eq!(
            resume(&h, "a", 2, Some("e1"), t).recovered,
            Some(false),
            "gap"
        );
        assert_eq!(resume(&h, "a", 4, Some("e1"), t).recovered, Some(true));
        assert_eq!(ingest(1, "e2"), Some(1));
        assert_eq!(resume(&h, "a", 5, Some("e1"), t).recovered, Some(false));
    }

    #[test]
    fn envelopes_and_notices_are_json() {
        let v: serde_json::Value =
            serde_json::from_str(&envelope("聊 \"x\"", 7, MessageKind::Text, b"hi\n")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"topic": "聊 \"x\"", "id": 7, "data": "hi\n"})
        );
        let v: serde_json::Value =
            serde_json::from_str(&envelope("b", 1, MessageKind::Binary, &[0, 255])).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"topic": "b", "id": 1, "binary": "AP8="})
        );
        let replay = Replay {
            epoch: Arc::from("e"),
            last: 3,
            recovered: Some(false),
            frames: Vec::new(),
        };
        let v: serde_json::Value = serde_json::from_str(&notice("t", &replay)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "subscribed", "topic": "t", "epoch": "e", "last": 3, "recovered": false})
        );
    }
}
