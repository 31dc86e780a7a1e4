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
//! and id are already known, instead of [`Histories::publish`]. A log
//! made here before any such message came has a provisional epoch (last
//! id 0): the first ingested message *anchors* it to the broker's epoch,
//! and the subscribers already there are told the epoch then. A later
//! change of epoch, or a gap in the ids, *breaks* the run: the log starts
//! over and the subscribers in the tagged form are asked to reconnect, so
//! that their resume says what could not be recovered. A message without
//! an id (another program's plain publish, or one delivered here only
//! while the broker was away) is delivered but not kept, and resumes from
//! before it are reported as not recovered
//! ([`Histories::note_unstamped`]).

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::prelude::rust_2021::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::json;
use crate::connection::{MessageKind, SharedFrame};

/// The largest id a broker may give (Redis' counters are signed 64-bit),
/// so that arithmetic on ids never overflows.
pub(crate) const MAX_ID: u64 = i64::MAX as u64;

/// Bookkeeping counted per kept message on top of its frames' bytes.
const ENTRY_OVERHEAD: usize = 96;

/// Bookkeeping counted per topic while its log keeps messages: the log,
/// its name and epoch, its map slot and the least room of its queue
/// (about 450 bytes with a short name). Without it a message per topic
/// over many topics held several times the byte bound.
const LOG_OVERHEAD: usize = 512;

/// What `entry` counts against the byte bound: the log's own overhead rides
/// on its only entry (`alone`), added with the first and taken with the last.
fn charge(entry: &Entry, alone: bool) -> usize {
    entry.bytes() + if alone { LOG_OVERHEAD } else { 0 }
}

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
    /// of bookkeeping per message and 500 per topic that keeps some);
    /// beyond it the oldest messages server-wide are dropped. Default
    /// 64 MiB.
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
    /// A resume from an id below this is not exact: a message without id
    /// was delivered after `cut - 1` (0: none).
    cut: u64,
    /// Removed from the map: a thread that looked it up before must look
    /// again.
    forgotten: bool,
    /// Its ids come from a broker ([`Histories::ingest`]): another
    /// instance may be ahead of this one, and a resume from there is not
    /// an error but messages still on their way here.
    relayed: bool,
}

impl Log {
    /// The first id a replay could start from: the oldest kept, or the
    /// next one when none is kept.
    fn first(&self) -> u64 {
        self.entries
            .front()
            .map_or(self.last.saturating_add(1), |e| e.message.id)
    }
}

/// How an ingested message changed its topic's run of ids, told to the
/// subscribers before the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shift {
    /// The log had no id yet: it now counts in `epoch`, and its message
    /// `last + 1` comes next. Subscribers in the tagged form that came
    /// before are told (a `subscribed` notice without `recovered`).
    Anchored { epoch: Arc<str>, last: u64 },
    /// Another epoch, or ids skipped: the subscribers in the tagged form
    /// are closed (1012) so that they resume and are told what is missing.
    Broken,
}

/// What a subscribe found in the log, decided under the topic's lock.
#[derive(Debug)]
pub(crate) struct Replay {
    /// The topic's epoch.
    pub(crate) epoch: Arc<str>,
    /// The newest id at the time of the subscribe: live messages start
    /// after it. For a resume ahead of this instance (a relayed topic),
    /// the resume's id instead.
    pub(crate) last: u64,
    /// Whether the subscriber's `since` was honoured exactly (no gap); None
    /// when it asked for none.
    pub(crate) recovered: Option<bool>,
    /// The messages to send before the live stream, oldest first, in the
    /// tagged form.
    pub(crate) frames: Vec<SharedFrame>,
}

/// Where a resume stands against a topic's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// Exact: the messages after this id are kept (or none came since).
    After(u64),
    /// The subscriber has messages up to this id, which this instance has
    /// not received from the broker yet: nothing to replay, and live
    /// messages up to it are skipped.
    Ahead(u64),
    /// Not recoverable: everything kept is replayed.
    Lost,
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
    /// byte bound emptied or that keep nothing (see
    /// [`forget_if_unused`](Self::forget_if_unused)).
    pub(crate) fn publish<R>(
        &self,
        topic: &str,
        plain: &SharedFrame,
        now: Instant,
        route: impl FnOnce(&Arc<str>, &Stamped) -> R,
    ) -> (R, Vec<Arc<str>>) {
        let mut empty = false;
        let result = self.with_log(topic, |name, log| {
            let message = stamp(name, log.last + 1, plain);
            self.append(log, now, &message);
            empty = log.entries.is_empty();
            route(name, &message)
        });
        let mut emptied = self.trim_to_bytes();
        if empty {
            // Nothing kept (max_messages 0): forgotten unless subscribed,
            // as in `ingest`, so that published topics cannot pile up.
            emptied.push(Arc::from(topic));
        }
        (result, emptied)
    }

    /// Takes a message whose epoch and id were assigned elsewhere (a
    /// broker). One at or below the newest id of the same epoch is a
    /// duplicate and ignored (`None`). Otherwise it is kept and routed as in
    /// [`publish`](Self::publish), `route` learning first how the run of
    /// ids changed ([`Shift`]): a log without ids yet takes the epoch;
    /// another epoch, or ids that skip (a message this instance missed),
    /// empties the log, so a resume across the break is reported as not
    /// recovered.
    pub(crate) fn ingest<R>(
        &self,
        topic: &str,
        epoch: &str,
        id: u64,
        plain: &SharedFrame,
        now: Instant,
        route: impl FnOnce(&Arc<str>, &Stamped, Option<Shift>) -> R,
    ) -> (Option<R>, Vec<Arc<str>>) {
        let mut empty = false;
        if id == 0 || id > MAX_ID {
            return (None, Vec::new()); // ids start at 1; see MAX_ID
        }
        let result = self.with_log(topic, |name, log| {
            let mut shift = None;
            if &*log.epoch != epoch {
                self.clear(log);
                shift = Some(if log.last == 0 {
                    // Unstamped messages came before: resumes from before
                    // this message are not exact.
                    log.cut = if log.cut > 0 { id } else { 0 };
                    Shift::Anchored {
                        epoch: Arc::from(epoch),
                        last: id - 1,
                    }
                } else {
                    log.cut = 0;
                    Shift::Broken
                });
                log.epoch = Arc::from(epoch);
                log.last = id - 1;
            } else if id <= log.last {
                return None;
            } else if id > log.last.saturating_add(1) {
                // What came before cannot be replayed as one run with it.
                self.clear(log);
                shift = Some(if log.last == 0 {
                    Shift::Anchored {
                        epoch: Arc::clone(&log.epoch),
                        last: id - 1,
                    }
                } else {
                    Shift::Broken
                });
                log.last = id - 1;
            }
            log.relayed = true;
            let message = stamp(name, id, plain);
            self.append(log, now, &message);
            empty = log.entries.is_empty();
            Some(route(name, &message, shift))
        });
        let mut emptied = self.trim_to_bytes();
        if empty {
            // Nothing kept (max_messages 0): forgotten unless subscribed,
            // so that topics from the network cannot pile up.
            emptied.push(Arc::from(topic));
        }
        (result, emptied)
    }

    /// Notes that a message without id was delivered on `topic` (not kept):
    /// a resume from an id before it is reported as not recovered, since
    /// the subscriber may have missed it.
    pub(crate) fn note_unstamped(&self, topic: &str) {
        loop {
            let log = {
                let logs = self.logs.read().unwrap_or_else(PoisonError::into_inner);
                match logs.get(topic) {
                    Some(log) => Arc::clone(log),
                    None => return, // no log: no resume here can be exact anyway
                }
            };
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            if log.forgotten {
                continue; // forgotten between the lookup and the lock
            }
            log.cut = log.last.saturating_add(1);
            return;
        }
    }

    /// Subscribes: under the topic's lock, reads what to replay after
    /// `since` and calls `register(name, last)`, which adds the
    /// subscription and counts it in the directory, and says whether it
    /// is new. `register` may refuse (a topic limit); nothing is replayed
    /// then, nor to a connection that was already subscribed. Messages
    /// that do not `fit` the subscriber's output bound are left out of the
    /// replay, and a resume from before one is not recovered.
    pub(crate) fn subscribe<E>(
        &self,
        topic: &str,
        since: Option<Since<'_>>,
        now: Instant,
        fits: impl Fn(&SharedFrame) -> bool,
        register: impl FnOnce(&Arc<str>, u64) -> Result<bool, E>,
    ) -> Result<Replay, E> {
        self.with_log(topic, |name, log| {
            self.expire(log, now);
            let resume = since.map(|since| self.resume_point(log, since, &fits));
            // Live messages start after the newest id, or, for a subscriber
            // ahead of this instance, after the last one it has.
            let floor = match resume {
                Some(Resume::Ahead(id)) => id,
                _ => log.last,
            };
            let added = register(name, floor)?;
            let mut replay = Replay {
                epoch: Arc::clone(&log.epoch),
                last: floor,
                recovered: None,
                frames: Vec::new(),
            };
            if let (Some(resume), true) = (resume, added) {
                let after = match resume {
                    Resume::After(id) => Some(id),
                    Resume::Ahead(_) => None,
                    Resume::Lost => Some(0),
                };
                replay.recovered = Some(!matches!(resume, Resume::Lost));
                if let Some(after) = after {
                    replay.frames = log
                        .entries
                        .iter()
                        .filter(|e| e.message.id > after && fits(&e.message.tagged))
                        .map(|e| e.message.tagged.clone())
                        .collect();
                }
            }
            Ok(replay)
        })
    }

    /// How a resume from `since` stands against `log`.
    /// A kept message that does not `fit` the subscriber's output bound
    /// can never reach it: a resume from before it is not recovered, or
    /// the subscriber, closed for the gap, would resume and be closed
    /// again for as long as the message is kept.
    fn resume_point(
        &self,
        log: &Log,
        since: Since<'_>,
        fits: impl Fn(&SharedFrame) -> bool,
    ) -> Resume {
        let same_epoch = since.epoch.is_none_or(|e| e == &*log.epoch);
        if same_epoch
            && since.id <= log.last
            && since.id.saturating_add(1) >= log.first()
            && since.id >= log.cut
        {
            let mut missed = log.entries.iter().filter(|e| e.message.id > since.id);
            if missed.all(|e| fits(&e.message.tagged)) {
                return Resume::After(since.id);
            }
            return Resume::Lost;
        }
        // Another instance of the same relay got further than this one: the
        // messages up to `since` are on their way here, and are skipped when
        // they come. Only with the epoch named (a bare id could be of any
        // epoch) and not further ahead than a history holds: an instance
        // that far behind has lost touch, and its break will tell.
        let ahead = since.id.saturating_sub(log.last);
        if log.relayed
            && since.epoch == Some(&*log.epoch)
            && ahead > 0
            && ahead <= self.limits.max_messages.max(1) as u64
            && since.id <= MAX_ID
        {
            return Resume::Ahead(since.id);
        }
        Resume::Lost
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
            cut: 0,
            forgotten: false,
            relayed: false,
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
        let bytes = charge(&entry, log.entries.is_empty());
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
        log.entries = VecDeque::new();
        log.bytes = 0;
    }

    fn pop_oldest(&self, log: &mut Log) -> Option<Instant> {
        let entry = log.entries.pop_front()?;
        let bytes = charge(&entry, log.entries.is_empty());
        log.bytes -= bytes;
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        // The byte bound counts entries, not room: a log that once held
        // many (aged out since) gives the room back, or logs like it
        // would hold far more than the bound says. Halving at a quarter
        // keeps it amortized O(1) per message.
        let (len, room) = (log.entries.len(), log.entries.capacity());
        if room > 16 && len < room / 4 {
            log.entries.shrink_to(len * 2);
        }
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
    let tagged = envelope(topic, Some(id), plain.kind(), plain.payload());
    Stamped {
        id,
        plain: plain.clone(),
        tagged: SharedFrame::new(MessageKind::Text, tagged.as_bytes()),
    }
}

/// The tagged form of a message (documented in the README): a text
/// payload as `{"topic":T,"id":N,"data":"..."}`, a binary one as
/// `{"topic":T,"id":N,"binary":"BASE64"}`; without `"id"` for a message
/// that has none (relayed from a program that published it plainly).
pub(crate) fn envelope(topic: &str, id: Option<u64>, kind: MessageKind, payload: &[u8]) -> String {
    let mut out = String::with_capacity(payload.len() + topic.len() + 40);
    out.push_str("{\"topic\":");
    json::push_string(&mut out, topic);
    if let Some(id) = id {
        out.push_str(",\"id\":");
        out.push_str(&id.to_string());
    }
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
    notice_of(topic, &replay.epoch, replay.last, replay.recovered)
}

/// The `subscribed` notice; also sent mid-stream when a topic's log is
/// anchored to a broker's epoch ([`Shift::Anchored`]).
pub(crate) fn notice_of(topic: &str, epoch: &str, last: u64, recovered: Option<bool>) -> String {
    let mut out = String::with_capacity(topic.len() + 80);
    out.push_str("{\"type\":\"subscribed\",\"topic\":");
    json::push_string(&mut out, topic);
    out.push_str(",\"epoch\":");
    json::push_string(&mut out, epoch);
    out.push_str(",\"last\":");
    out.push_str(&last.to_string());
    if let Some(recovered) = recovered {
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
        h.subscribe(
            topic,
            Some(Since { id, epoch }),
            now,
            |_| true,
            |_, _| Ok::<bool, ()>(true),
        )
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
            .subscribe(
                "a",
                None,
                t,
                |_| true,
                |_, last| {
                    assert_eq!(last, 3);
                    Ok::<bool, ()>(true)
                },
            )
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
            h.ingest("a", epoch, id, &frame, t, |_, m: &Stamped, _| m.id)
                .0
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
    fn a_resume_ahead_of_a_relayed_log_waits_for_what_is_on_its_way() {
        let limits = HistoryLimits {
            max_messages: 10,
            ..HistoryLimits::default()
        };
        let h = Histories::new(limits);
        let t = Instant::now();
        let ingest = |id: u64| {
            let frame = SharedFrame::new(MessageKind::Text, id.to_string().as_bytes());
            h.ingest("a", "X", id, &frame, t, |_, m: &Stamped, _| m.id)
                .0
        };
        for id in 1..=3 {
            ingest(id);
        }
        // The client got 1-5 on another instance; 4 and 5 are still on
        // their way here. Live messages start after 5, nothing replayed.
        let r = h
            .subscribe(
                "a",
                Some(Since {
                    id: 5,
                    epoch: Some("X"),
                }),
                t,
                |_| true,
                |_, floor| {
                    assert_eq!(floor, 5, "the worker skips up to 5");
                    Ok::<bool, ()>(true)
                },
            )
            .unwrap();
        assert_eq!((r.last, r.recovered, ids(&r)), (5, Some(true), vec![]));
        // Without the epoch, another epoch, or further ahead than the
        // history holds: not recovered, as before.
        let r = resume(&h, "a", 5, None, t);
        assert_eq!(
            (r.last, r.recovered, ids(&r)),
            (3, Some(false), vec![1, 2, 3])
        );
        let r = resume(&h, "a", 5, Some("Y"), t);
        assert_eq!(r.recovered, Some(false));
        assert_eq!(resume(&h, "a", 13, Some("X"), t).recovered, Some(true));
        let r = resume(&h, "a", 14, Some("X"), t);
        assert_eq!((r.last, r.recovered), (3, Some(false)));
        // Ids made here are never ahead of a client: its id is bogus.
        let local = Histories::new(limits);
        publish(&local, "a", "1", t);
        let epoch = resume(&local, "a", 0, None, t).epoch;
        assert_eq!(
            resume(&local, "a", 2, Some(&epoch), t).recovered,
            Some(false)
        );
    }

    #[test]
    fn ingest_anchors_breaks_and_cuts() {
        let h = Histories::new(HistoryLimits::default());
        let t = Instant::now();
        let ingest = |id: u64, epoch: &str| {
            let frame = SharedFrame::new(MessageKind::Text, id.to_string().as_bytes());
            h.ingest("a", epoch, id, &frame, t, |_, _, shift| shift).0
        };
        // A subscriber before any id: provisional epoch, last 0.
        let first = resume(&h, "a", 0, None, t);
        assert_eq!(first.last, 0);
        // Redis' counter is at 56 already: the log takes its epoch.
        let anchored = Shift::Anchored {
            epoch: Arc::from("X"),
            last: 56,
        };
        assert_eq!(ingest(57, "X"), Some(Some(anchored)));
        assert_eq!(ingest(58, "X"), Some(None));
        assert_eq!(ingest(58, "X"), None, "duplicate");
        let r = resume(&h, "a", 57, Some("X"), t);
        assert_eq!((r.recovered, ids(&r)), (Some(true), vec![58]));
        // A message without id: a resume from before it is not exact.
        h.note_unstamped("a");
        let r = resume(&h, "a", 58, Some("X"), t);
        assert_eq!((r.recovered, ids(&r)), (Some(false), vec![57, 58]));
        assert_eq!(ingest(59, "X"), Some(None));
        assert_eq!(resume(&h, "a", 59, Some("X"), t).recovered, Some(true));
        assert_eq!(resume(&h, "a", 58, Some("X"), t).recovered, Some(false));
        // A gap, then another epoch: both break the run.
        assert_eq!(ingest(61, "X"), Some(Some(Shift::Broken)));
        assert_eq!(resume(&h, "a", 59, Some("X"), t).recovered, Some(false));
        assert_eq!(resume(&h, "a", 60, Some("X"), t).recovered, Some(true));
        assert_eq!(ingest(1, "Y"), Some(Some(Shift::Broken)));
        let r = resume(&h, "a", 0, Some("Y"), t);
        assert_eq!((r.recovered, ids(&r)), (Some(true), vec![1]));
        // Id 0 is no id.
        assert_eq!(ingest(0, "Y"), None);
        // Nothing kept: the log is handed back to be forgotten.
        let none = Histories::new(HistoryLimits {
            max_messages: 0,
            ..HistoryLimits::default()
        });
        let frame = SharedFrame::new(MessageKind::Text, b"x");
        let (_, emptied) = none.ingest("b", "X", 3, &frame, t, |_, _, _| ());
        assert_eq!(emptied, vec![Arc::<str>::from("b")]);
        none.forget_if_unused("b", || false);
        assert_eq!(none.usage(), (0, 0, 0));
    }

    #[test]
    fn a_publish_that_keeps_nothing_hands_its_log_back_to_be_forgotten() {
        // max_messages 0: a publish to a topic nobody subscribes to (a
        // POST /publish/NAME per name) must not leave an empty log behind.
        let h = Histories::new(HistoryLimits {
            max_messages: 0,
            ..HistoryLimits::default()
        });
        let t = Instant::now();
        let frame = SharedFrame::new(MessageKind::Text, b"x");
        for i in 0..3 {
            let (id, emptied) = h.publish(&format!("t{i}"), &frame, t, |_, m| m.id);
            assert_eq!(id, 1);
            assert_eq!(emptied, vec![Arc::<str>::from(format!("t{i}"))]);
            for topic in emptied {
                h.forget_if_unused(&topic, || false);
            }
        }
        assert_eq!(h.usage(), (0, 0, 0));
    }

    #[test]
    fn a_topic_counts_against_the_byte_bound_not_only_its_messages() {
        // One small message on each of many topics: what a topic's log
        // costs beyond its messages (~450 bytes) must count, or the bound
        // held several times max_bytes.
        let limits = HistoryLimits {
            max_bytes: 64 << 10,
            ..HistoryLimits::default()
        };
        let h = Histories::new(limits);
        let t = Instant::now();
        for i in 0..2000 {
            let (_, emptied) = h.publish(
                &format!("t{i}"),
                &SharedFrame::new(MessageKind::Text, b"x"),
                t,
                |_, m| m.id,
            );
            for topic in emptied {
                h.forget_if_unused(&topic, || false);
            }
        }
        let (logs, messages, bytes) = h.usage();
        assert_eq!(logs, messages);
        assert!(bytes <= limits.max_bytes, "{bytes}");
        assert!(logs * 450 <= limits.max_bytes, "{logs} topics kept");
        // Emptied, the count goes back to zero.
        for i in 0..2000 {
            let topic = format!("t{i}");
            let log = h.logs.read().unwrap().get(topic.as_str()).cloned();
            if let Some(log) = log {
                let mut log = log.lock().unwrap();
                h.clear(&mut log);
            }
        }
        assert_eq!(h.usage().2, 0);
    }

    #[test]
    fn a_log_that_empties_gives_its_room_back() {
        // A topic that once held max_messages and now holds one message
        // (the rest aged out) must not keep room for all of them: the byte
        // bound counts one, and topics like it could pile up unseen.
        let limits = HistoryLimits {
            max_messages: 1000,
            max_age: Some(Duration::from_secs(10)),
            ..HistoryLimits::default()
        };
        let h = Histories::new(limits);
        let t = Instant::now();
        for i in 0..1000 {
            publish(&h, "a", &i.to_string(), t);
        }
        publish(&h, "a", "late", t + Duration::from_secs(11));
        let logs = h.logs.read().unwrap();
        let log = logs["a"].lock().unwrap();
        assert_eq!(log.entries.len(), 1);
        assert!(log.entries.capacity() <= 64, "{}", log.entries.capacity());
    }

    #[test]
    fn envelopes_and_notices_are_json() {
        let v: serde_json::Value =
            serde_json::from_str(&envelope("聊 \"x\"", Some(7), MessageKind::Text, b"hi\n"))
                .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"topic": "聊 \"x\"", "id": 7, "data": "hi\n"})
        );
        let v: serde_json::Value =
            serde_json::from_str(&envelope("b", Some(1), MessageKind::Binary, &[0, 255])).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"topic": "b", "id": 1, "binary": "AP8="})
        );
        let v: serde_json::Value =
            serde_json::from_str(&envelope("b", None, MessageKind::Text, b"plain")).unwrap();
        assert_eq!(v, serde_json::json!({"topic": "b", "data": "plain"}));
        let v: serde_json::Value =
            serde_json::from_str(&envelope("b", Some(1), MessageKind::Binary, &[0, 255])).unwrap();
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

#[cfg(test)]
mod properties {
    //! Hostile broker input: ids and epochs come from anyone who can
    //! publish to Redis.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// A message with an epoch (of three) and an id, any u64.
        Ingest(u8, u64, u16),
        /// A message without id.
        Unstamped,
        /// A resume after an id, with an epoch of the three or none.
        Resume(u64, Option<u8>),
        /// Time passes.
        Wait(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        let id = prop_oneof![0..40u64, any::<u64>(), Just(u64::MAX), Just(MAX_ID)];
        prop_oneof![
            6 => (0..3u8, id, 0..300u16).prop_map(|(e, i, n)| Op::Ingest(e, i, n)),
            1 => Just(Op::Unstamped),
            2 => (0..45u64, proptest::option::of(0..3u8)).prop_map(|(i, e)| Op::Resume(i, e)),
            1 => (0..20u8).prop_map(Op::Wait),
        ]
    }

    proptest! {
        #[test]
        fn hostile_ids_never_panic_overflow_or_break_a_resume(
            ops in proptest::collection::vec(op(), 1..200),
            topics in 1..4usize,
        ) {
            let limits = HistoryLimits {
                max_messages: 16,
                max_age: Some(Duration::from_secs(30)),
                max_bytes: 8 * 1024,
            };
            let h = Histories::new(limits);
            let epochs = ["e0", "e1", "e2"];
            let mut now = Instant::now();
            // Per topic: (epoch, last id) when a message without id came.
            let mut marks: Vec<(String, u64)> = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                let topic = format!("t{}", n % topics);
                match op {
                    Op::Ingest(e, id, len) => {
                        // Real epochs are never reused; these three are: a
                        // new run forgets the marks of the topic's old ones.
                        let before = h.logs.read().unwrap().get(topic.as_str()).map(|l| l.lock().unwrap().epoch.clone());
                        if before.as_deref() != Some(epochs[usize::from(e)]) {
                            marks.retain(|(k, _)| !k.starts_with(&format!("{topic}/")));
                        }
                        let frame = SharedFrame::new(MessageKind::Binary, &vec![7; usize::from(len)]);
                        let (_, emptied) = h.ingest(&topic, epochs[usize::from(e)], id, &frame, now, |_, m, _| {
                            assert_eq!(m.id, id);
                        });
                        for t in emptied {
                            h.forget_if_unused(&t, || false);
                        }
                    }
                    Op::Unstamped => {
                        if let Some(log) = h.logs.read().unwrap().get(topic.as_str()) {
                            let log = log.lock().unwrap();
                            marks.push((format!("{}/{}", topic, log.epoch), log.last));
                        }
                        h.note_unstamped(&topic);
                    }
                    Op::Resume(since, e) => {
                        let since = Since { id: since, epoch: e.map(|e| epochs[usize::from(e)]) };
                        let r = h.subscribe(&topic, Some(since), now, |_| true, |_, _| Ok::<bool, ()>(true)).unwrap();
                        let got: Vec<u64> = r.frames.iter().map(|f| {
                            let v: serde_json::Value = serde_json::from_slice(f.payload()).unwrap();
                            v["id"].as_u64().unwrap()
                        }).collect();
                        prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
                        if r.recovered == Some(true) {
                            // Exactly what follows `since`, no gap.
                            let want: Vec<u64> = (since.id + 1..=r.last).collect();
                            prop_assert_eq!(&got, &want);
                            let key = format!("{}/{}", topic, r.epoch);
                            prop_assert!(
                                !marks.iter().any(|(k, last)| *k == key && *last >= since.id),
                                "a message without id after {} went unreported", since.id
                            );
                        }
                        h.forget_if_unused(&topic, || false);
                    }
                    Op::Wait(s) => now += Duration::from_secs(u64::from(s)),
                }
                let (logs, messages, bytes) = h.usage();
                prop_assert!(logs <= topics);
                prop_assert!(messages <= topics * limits.max_messages);
                prop_assert!(bytes <= limits.max_bytes + 400 + ENTRY_OVERHEAD, "{bytes}");
            }
        }
    }
}
