//! The relay over Redis pub/sub (feature `redis`).
//!
//! Two threads and two connections, with the `redis` crate's blocking API:
//!
//! - the **publisher** takes publishes from a bounded queue and sends them
//!   in pipelined batches (`PUBLISH PREFIX:topic:NAME ENVELOPE`), each batch
//!   followed by a marker on the instance's own control channel;
//! - the **subscriber** owns the lifecycle (connect, resubscribe, notice a
//!   loss, back off, reconnect), follows the instance's topics (`SUBSCRIBE`
//!   on the first local subscriber, `UNSUBSCRIBE` after the last) and hands
//!   what arrives to the workers through the hub's inboxes.
//!
//! **One path orders everything.** While connected, a publish is not
//! delivered locally: every instance, this one included, delivers what
//! comes back from its subscription, so every subscriber everywhere sees a
//! topic's messages in the order Redis processed them, each once. The
//! sender of a room message is left out with `skip`, and gets its own copy
//! at once from [`Peer::publish`](crate::server::Peer::publish) as without
//! a relay.
//!
//! **A publish after a subscribe reaches it.** A topic whose `SUBSCRIBE`
//! is not confirmed yet holds the queue: the publisher sends nothing past
//! a message for it until Redis has confirmed, so a message published on
//! this instance after a local subscribe comes back to it. The wait is
//! one round trip, once per new topic.
//!
//! **Ids for history and resume.** With topic history on
//! ([`ServerConfig::history`](crate::server::ServerConfig::history)), a
//! message's id must be the same on every instance, so ids are assigned
//! in Redis only: the publisher sends each message through a Lua script
//! ([`PUBLISH_WITH_ID`]) that increments the topic's counter and publishes
//! the envelope with `epoch=E id=N` in one atomic step. Every instance
//! then receives every topic (one `PSUBSCRIBE PREFIX:topic:*`, not a
//! channel per local topic), so that each keeps the history of all topics
//! and a client resumes on any of them. A message without id (a plain
//! `PUBLISH` from another program, or one delivered here only while Redis
//! was away) is delivered but not kept; a resume from before it is
//! reported as not recovered.
//!
//! **Faults.** The blocking read is the only way to learn of messages, so
//! the publisher wakes the subscriber by publishing a marker to the
//! instance's control channel (when topics change), and sends one every
//! heartbeat; a subscriber that hears nothing for three heartbeats and
//! then gets no answer to a `PING`, a command that times out, an error
//! reply to a batch or any connection error ends the session. Then everything sent but not seen back (or
//! refused by Redis: a marker after a refused publish does not count it as
//! done) and everything queued is delivered here (it may or may not have
//! reached the other instances: it is counted and logged; a refused one
//! after those of its batch that came back), publishes are delivered
//! locally until the next session is up, and the subscriber reconnects
//! with full-jitter exponential backoff and resubscribes to every topic
//! the instance has. Own messages of an earlier session that Redis
//! delivers late are recognised by their `seq` and dropped, so nothing is
//! delivered twice here.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io;
use std::prelude::rust_2021::*;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use redis::IntoConnectionInfo;

use super::envelope::{self, Header, Skip};
use super::{Accepted, BrokerStats, Outbound, Relay};
use crate::connection::SharedFrame;
use crate::server::hub::Hub;

/// Most messages sent in one pipelined batch.
const MAX_BATCH: usize = 1024;
/// Most payload bytes sent in one batch (one message may be larger).
const MAX_BATCH_BYTES: usize = 1 << 20;
/// Bytes counted per queued message on top of its frame: the queue entry.
const ENTRY_OVERHEAD: usize = 64;
/// Least time between two log lines about dropped or malformed messages.
const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// A session that lasted this long resets the backoff.
const STABLE: Duration = Duration::from_secs(10);

/// The script that gives a message its id (documented in the README, for
/// other programs that want ids too). `KEYS[1]` is the topic's counter,
/// a hash `PREFIX:ids:NAME` of `epoch` and `last`; `ARGV` holds the
/// channel, an epoch to start with if the counter has none (or lost it:
/// Redis restarted without persistence, or the key expired), the key's
/// time to live in seconds, the header's other fields (` kind=text ...`,
/// each after a space) and the payload. It returns the id. A counter that
/// is not a hash of a valid epoch and a whole `last` below 2^53 (written
/// by someone else) is replaced, starting a new epoch, so that bad data
/// in Redis never stops publishing.
pub const PUBLISH_WITH_ID: &str = r"local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
local epoch, last = false, nil
if kind == 'hash' then
  epoch = redis.call('HGET', key, 'epoch')
  last = redis.call('HGET', key, 'last')
  -- Digits only: tonumber also takes '10.0', '1e3' or '0x10', which
  -- HINCRBY then refuses, failing the whole batch.
  last = last and string.match(last, '^%d+$') and tonumber(last) or nil
end
if not epoch or #epoch > 64 or not string.match(epoch, '^[%w_-]+$')
    or not last or last < 0 or last ~= math.floor(last) or last >= 2^53 then
  -- None yet, lost, or not ours to trust: a new epoch.
  if kind ~= 'none' then redis.call('DEL', key) end
  epoch = ARGV[2]
  redis.call('HSET', key, 'epoch', epoch, 'last', 0)
end
local id = redis.call('HINCRBY', key, 'last', 1)
redis.call('EXPIRE', key, ARGV[3])
redis.call('PUBLISH', ARGV[1],
  '\0rfc6455 epoch=' .. epoch .. ' id=' .. string.format('%d', id) .. ARGV[4] .. '\n' .. ARGV[5])
return id
";

/// How to reach Redis and how the relay behaves.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://[USER:PASSWORD@]HOST[:PORT][/DB]` (port 6379 and db 0 by
    /// default), or `redis+unix:///PATH[?db=N]`. Never logged whole: logs
    /// show the host, port and db only.
    pub url: String,
    /// A password that replaces the URL's (from the environment, so that
    /// it is not on a command line).
    pub password: Option<String>,
    /// Prefix of the channels: topic NAME is `PREFIX:topic:NAME`, the
    /// instance's control channel `PREFIX:instance:ID`. Default `rfc6455`.
    pub prefix: String,
    /// Most bytes of publishes waiting for Redis, queued or sent and not yet
    /// seen back; beyond it a publish is dropped and counted
    /// ([`BrokerStats::dropped`]). Default 16 MiB.
    pub max_queue_bytes: usize,
    /// A marker goes through Redis at least this often; three without
    /// anything from Redis, then no answer to a `PING` within one more,
    /// end the session. Default 1 s.
    pub heartbeat: Duration,
    /// Time to connect, for a batch's replies, and for Redis to confirm a
    /// `SUBSCRIBE` or `UNSUBSCRIBE`. Default 5 s.
    pub timeout: Duration,
    /// First reconnect delay (full jitter: a random time up to it).
    /// Default 100 ms.
    pub reconnect_min: Duration,
    /// Largest reconnect delay; each failure doubles it up to this.
    /// Default 5 s. Either delay past a century is a century.
    pub reconnect_max: Duration,
    /// With topic history: how long a topic's id counter
    /// (`PREFIX:ids:NAME`) stays in Redis after its last publish. A topic
    /// published to again after that starts a new epoch at id 1. Default
    /// one day; at most a century (`Duration::MAX` is a century).
    pub ids_ttl: Duration,
    /// Largest payload taken from another instance (or another program
    /// publishing to the channels); larger ones are dropped and counted
    /// ([`BrokerStats::malformed`]), so that whoever can publish to Redis
    /// cannot make every instance hold and encode more than a client of
    /// theirs may send. Give every instance the same. (The Redis client
    /// reads such a message whole before it is dropped: Redis' own
    /// `proto-max-bulk-len` bounds that.) Default 64 MiB.
    pub max_message_bytes: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379/0".to_owned(),
            password: None,
            prefix: "rfc6455".to_owned(),
            max_queue_bytes: 16 << 20,
            heartbeat: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            ids_ttl: Duration::from_secs(24 * 3600),
            max_message_bytes: 64 << 20,
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redacted(&self.url))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("prefix", &self.prefix)
            .field("max_queue_bytes", &self.max_queue_bytes)
            .field("heartbeat", &self.heartbeat)
            .field("timeout", &self.timeout)
            .field("reconnect_min", &self.reconnect_min)
            .field("reconnect_max", &self.reconnect_max)
            .field("ids_ttl", &self.ids_ttl)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish()
    }
}

/// The URL as logs may show it: scheme, host, port and db, no user or
/// password.
fn redacted(url: &str) -> String {
    match url.into_connection_info() {
        Ok(info) => describe(&info),
        Err(_) => "(an invalid Redis URL)".to_owned(),
    }
}

fn describe(info: &redis::ConnectionInfo) -> String {
    format!("redis://{}/{}", info.addr(), info.redis_settings().db())
}

/// A publish waiting for Redis, or sent and waiting to come back.
struct Queued {
    seq: u64,
    topic: Arc<str>,
    frame: SharedFrame,
    skip: Option<Skip>,
    /// Came back from Redis and was delivered here (kept in `in_flight`
    /// until the publishes before it are settled).
    echoed: bool,
}

impl Queued {
    fn cost(&self) -> usize {
        self.frame.wire_len() + self.topic.len() + ENTRY_OVERHEAD
    }
}

/// What both threads and the publishers share, under one lock.
#[derive(Default)]
struct State {
    /// Number of the current session (connection pair); 0 before the first.
    session: u64,
    /// The session is connected and resubscribed: publishes go to Redis.
    up: bool,
    /// The session is live (connecting, resubscribing or up), not failed.
    live: bool,
    /// The publisher connection of the session, for its thread to take.
    handover: Option<redis::Connection>,
    /// Publishes not yet sent.
    queue: VecDeque<Queued>,
    /// Publishes sent and not yet settled: Redis' replies to their batch
    /// not yet read as successes, or no own message or marker at or past
    /// them read yet.
    in_flight: VecDeque<Queued>,
    /// Cost of `queue` and `in_flight`.
    bytes: usize,
    /// The next publish's `seq`.
    next_seq: u64,
    /// The first `seq` of the current session: own messages below it are
    /// from a failed session, already delivered here.
    session_seq: u64,
    /// The highest `seq` an own message or a marker read by the
    /// subscriber shows Redis has processed.
    seen: u64,
    /// The highest `seq` whose batch Redis answered without error. A
    /// processed publish may have been refused (an error reply: out of
    /// memory, a failing script): only both together settle it.
    confirmed: u64,
    /// Topics whose subscription may have to change.
    pending: HashSet<Arc<str>>,
    /// Topics whose SUBSCRIBE or UNSUBSCRIBE is under way.
    applying: HashSet<Arc<str>>,
    /// The subscriber needs a marker to wake up.
    wake: bool,
    /// The publisher thread waits for work.
    publisher_idle: bool,
    shutdown: bool,
}

impl State {
    /// Whether a publish to `topic` must wait for its subscription.
    fn holds(&self, topic: &str) -> bool {
        !self.pending.is_empty() && self.pending.contains(topic)
            || !self.applying.is_empty() && self.applying.contains(topic)
    }

    /// Drops what Redis has processed (`seen`) and not refused
    /// (`confirmed`).
    fn settle(&mut self) {
        let upto = self.seen.min(self.confirmed);
        while self.in_flight.front().is_some_and(|q| q.seq <= upto) {
            if let Some(q) = self.in_flight.pop_front() {
                self.bytes -= q.cost();
            }
        }
    }
}

#[derive(Default)]
struct Counters {
    connected: AtomicBool,
    sent: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    local_only: AtomicU64,
    malformed: AtomicU64,
    reconnects: AtomicU64,
    channels: AtomicUsize,
}

/// The relay over Redis: see the module docs.
pub(crate) struct RedisRelay {
    config: RedisConfig,
    info: redis::ConnectionInfo,
    /// This instance's id, in `from` of its envelopes.
    instance: String,
    /// `PREFIX:topic:`.
    topic_prefix: String,
    /// `PREFIX:instance:ID`.
    control: String,
    /// Ids from Redis (the server keeps topic history): every publish goes
    /// through [`PUBLISH_WITH_ID`] and the instance receives every topic.
    ids: bool,
    /// `PREFIX:ids:`.
    ids_prefix: String,
    /// Longest topic name taken from a channel.
    max_topic_len: usize,
    state: Mutex<State>,
    /// The publisher thread waits on it.
    work: Condvar,
    /// The subscriber thread waits on it between reconnects.
    backoff: Condvar,
    counters: Counters,
}

impl RedisRelay {
    /// Checks the URL and prepares the relay; nothing connects before
    /// [`Relay::start`].
    pub(crate) fn new(config: RedisConfig) -> io::Result<RedisRelay> {
        let mut info = config.url.as_str().into_connection_info().map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("not a Redis URL: {e}"))
        })?;
        if let Some(password) = &config.password {
            let settings = info.redis_settings().clone().set_password(password);
            info = info.set_redis_settings(settings);
        }
        let bad = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what.to_owned()));
        if config.prefix.is_empty() || config.prefix.chars().any(char::is_control) {
            return bad("the Redis channel prefix must be non-empty, without control characters");
        }
        if config.heartbeat.is_zero() || config.timeout.is_zero() {
            return bad("the Redis heartbeat and timeout must be above zero");
        }
        if config.ids_ttl.as_secs() == 0 {
            return bad("the Redis ids' time to live must be at least one second");
        }
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| io::Error::other(e.to_string()))?;
        let instance: String = id.iter().map(|b| format!("{b:02x}")).collect();
        Ok(RedisRelay {
            topic_prefix: format!("{}:topic:", config.prefix),
            control: format!("{}:instance:{instance}", config.prefix),
            ids: false,
            ids_prefix: format!("{}:ids:", config.prefix),
            max_topic_len: crate::server::TopicLimits::default().max_name_len,
            instance,
            info,
            config,
            state: Mutex::new(State {
                next_seq: 1,
                ..State::default()
            }),
            work: Condvar::new(),
            backoff: Condvar::new(),
            counters: Counters::default(),
        })
    }

    /// Ids from Redis, for a server that keeps topic history; topic names
    /// from channels longer than `max_topic_len` are refused.
    pub(crate) fn set_ids(&mut self, ids: bool, max_topic_len: usize) {
        self.ids = ids;
        self.max_topic_len = max_topic_len;
    }

    /// The pattern of every topic's channel, the prefix's glob characters
    /// escaped.
    fn all_topics(&self) -> String {
        let mut pattern = String::with_capacity(self.topic_prefix.len() + 4);
        for c in self.topic_prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        pattern
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn channel(&self, topic: &str) -> String {
        format!("{}{topic}", self.topic_prefix)
    }

    /// Ends `session` if it is still the current one: what was sent and not
    /// seen back, and what was queued, is delivered here (under the lock,
    /// so that it comes before anything published after), and publishes
    /// are local until the next session is up.
    fn fail(&self, hub: &Hub, session: u64, why: &str) {
        let mut st = self.lock();
        if st.session != session || !st.live {
            return;
        }
        st.live = false;
        st.up = false;
        st.handover = None;
        st.pending.clear();
        st.applying.clear();
        self.counters.connected.store(false, Ordering::Relaxed);
        let mut unsure = 0u64;
        let st = &mut *st;
        st.bytes = 0;
        for q in st.in_flight.drain(..).chain(st.queue.drain(..)) {
            if q.echoed {
                continue;
            }
            unsure += 1;
            hub.route_unstamped(&q.topic, &q.frame, q.skip);
        }
        self.counters
            .local_only
            .fetch_add(unsure, Ordering::Relaxed);
        self.work.notify_all();
        log::warn!(
            "redis: lost {} ({why}); {unsure} messages sent or queued and not seen back were \
             delivered on this instance only; publishing locally until reconnected",
            describe(&self.info)
        );
    }

    fn connect(&self) -> redis::RedisResult<(redis::Connection, redis::Connection)> {
        let client = redis::Client::open(self.info.clone())?;
        let sub = client.get_connection_with_timeout(self.config.timeout)?;
        let publisher = client.get_connection_with_timeout(self.config.timeout)?;
        publisher.set_read_timeout(Some(self.config.timeout))?;
        publisher.set_write_timeout(Some(self.config.timeout))?;
        sub.set_write_timeout(Some(self.config.timeout))?;
        Ok((sub, publisher))
    }

    /// The subscriber thread: connects, runs sessions, backs off.
    fn run_subscriber(&self, hub: &Hub) {
        let mut backoff = Backoff::new(&self.config);
        let mut down_since: Option<(Instant, u64)> = None;
        let mut sessions = 0u64;
        loop {
            if self.lock().shutdown {
                return;
            }
            let (sub, publisher) = match self.connect() {
                Ok(pair) => pair,
                Err(e) => {
                    let delay = backoff.next();
                    if down_since.is_none() {
                        down_since = Some((Instant::now(), self.local_only()));
                        log::warn!(
                            "redis: cannot connect to {} ({e}); publishing locally, retrying",
                            describe(&self.info)
                        );
                    } else {
                        log::debug!("redis: connect failed ({e}); next try in {delay:?}");
                    }
                    self.sleep(delay);
                    continue;
                }
            };
            sessions += 1;
            if sessions > 1 {
                self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            let session = {
                let mut st = self.lock();
                st.session += 1;
                st.live = true;
                st.handover = Some(publisher);
                st.session_seq = st.next_seq;
                // Resubscribe: every topic the instance has now; later
                // changes come through `pending`. With ids, one pattern
                // covers every topic.
                if !self.ids {
                    st.pending = hub.topic_names().into_iter().collect();
                }
                st.session
            };
            self.work.notify_all();
            let started = Instant::now();
            let why = self.run_session(hub, sub, session, &mut down_since);
            if self.lock().shutdown {
                return; // the workers are gone: nothing left to deliver
            }
            self.fail(hub, session, &why);
            if down_since.is_none() {
                down_since = Some((Instant::now(), self.local_only()));
            }
            self.counters.channels.store(0, Ordering::Relaxed);
            if started.elapsed() >= STABLE {
                backoff = Backoff::new(&self.config);
            }
            self.sleep(backoff.next());
        }
    }

    fn local_only(&self) -> u64 {
        self.counters.local_only.load(Ordering::Relaxed)
    }

    /// Waits `delay`, or less if the relay shuts down.
    fn sleep(&self, delay: Duration) {
        let st = self.lock();
        if st.shutdown {
            return;
        }
        let _ = self
            .backoff
            .wait_timeout_while(st, delay, |st| !st.shutdown)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// One session on the subscriber side; returns why it ended.
    fn run_session(
        &self,
        hub: &Hub,
        mut conn: redis::Connection,
        session: u64,
        down_since: &mut Option<(Instant, u64)>,
    ) -> String {
        let mut pubsub = conn.as_pubsub();
        // A confirmation may take as long as a batch's replies; between
        // messages, the read waits a heartbeat (set by apply_changes).
        if let Err(e) = pubsub.set_read_timeout(Some(self.config.timeout)) {
            return e.to_string();
        }
        if let Err(e) = pubsub.subscribe(&self.control) {
            return e.to_string();
        }
        let mut subscribed: HashSet<Arc<str>> = HashSet::new();
        if self.ids {
            if let Err(e) = pubsub.psubscribe(self.all_topics()) {
                return e.to_string();
            }
            self.counters.channels.store(1, Ordering::Relaxed);
        } else if let Err(e) = self.apply_changes(hub, &mut pubsub, &mut subscribed) {
            return e.to_string();
        }
        if let Err(e) = pubsub.set_read_timeout(Some(self.config.heartbeat)) {
            return e.to_string();
        }
        {
            let mut st = self.lock();
            if st.session != session || !st.live {
                return "ended by the publisher".to_owned();
            }
            st.up = true;
        }
        self.counters.connected.store(true, Ordering::Relaxed);
        self.work.notify_all();
        match down_since.take() {
            Some((since, local_before)) => log::info!(
                "redis: connected to {} after {:.1} s, subscribed to {} topics; {} messages \
                 published here meanwhile reached this instance only, and messages published \
                 elsewhere meanwhile were not received",
                describe(&self.info),
                since.elapsed().as_secs_f64(),
                subscribed.len(),
                self.local_only() - local_before
            ),
            None => log::info!(
                "redis: connected to {} as instance {}, subscribed to {} topics",
                describe(&self.info),
                self.instance,
                subscribed.len()
            ),
        }
        let mut heard = Instant::now();
        let mut reader = Reader::default();
        loop {
            {
                let st = self.lock();
                if st.shutdown {
                    return "shutting down".to_owned();
                }
                if st.session != session || !st.live {
                    return "the publisher connection failed".to_owned();
                }
            }
            if let Err(e) = self.apply_changes(hub, &mut pubsub, &mut subscribed) {
                return e.to_string();
            }
            match pubsub.get_message() {
                Ok(msg) => {
                    heard = Instant::now();
                    self.on_message(hub, session, &msg, &mut reader);
                }
                Err(e) if e.is_timeout() => {
                    if heard.elapsed() >= 3 * self.config.heartbeat {
                        // The publisher may only be late (a loaded
                        // machine): ask Redis itself before giving up.
                        if let Err(e) = pubsub.ping::<redis::Value>() {
                            return format!(
                                "no heartbeat for {:.1} s, and no answer to PING ({e})",
                                heard.elapsed().as_secs_f64()
                            );
                        }
                        heard = Instant::now();
                    }
                }
                Err(e) => return e.to_string(),
            }
        }
    }

    /// Brings the subscriptions in line with the hub's topics, for every
    /// topic that changed.
    fn apply_changes(
        &self,
        hub: &Hub,
        pubsub: &mut redis::PubSub<'_>,
        subscribed: &mut HashSet<Arc<str>>,
    ) -> redis::RedisResult<()> {
        loop {
            let batch: Vec<Arc<str>> = {
                let mut st = self.lock();
                if st.pending.is_empty() {
                    return Ok(());
                }
                let batch: Vec<Arc<str>> = st.pending.drain().collect();
                st.applying.extend(batch.iter().cloned());
                batch
            };
            // A confirmation may take as long as a batch's replies; then
            // back to a heartbeat, also after a failure: the redis crate's
            // PubSub, dropped at the session's end, reads the answer to an
            // UNSUBSCRIBE, and the in-flight publishes wait for that.
            pubsub.set_read_timeout(Some(self.config.timeout))?;
            let applied = batch
                .iter()
                .try_for_each(|topic| -> redis::RedisResult<()> {
                    let want = hub.subscribers(topic) > 0;
                    if want && !subscribed.contains(topic) {
                        pubsub.subscribe(self.channel(topic))?;
                        subscribed.insert(Arc::clone(topic));
                    } else if !want && subscribed.remove(topic) {
                        pubsub.unsubscribe(self.channel(topic))?;
                    }
                    Ok(())
                });
            pubsub.set_read_timeout(Some(self.config.heartbeat))?;
            applied?;
            self.counters
                .channels
                .store(subscribed.len(), Ordering::Relaxed);
            let mut st = self.lock();
            for topic in &batch {
                st.applying.remove(topic);
            }
            drop(st);
            self.work.notify_all();
        }
    }

    fn on_message(&self, hub: &Hub, session: u64, msg: &redis::Msg, reader: &mut Reader) {
        let channel = msg.get_channel_name();
        let payload = msg.get_payload_bytes();
        if channel == self.control {
            if let Some(seq) = std::str::from_utf8(payload)
                .ok()
                .and_then(|s| s.parse().ok())
            {
                let mut st = self.lock();
                if st.session == session {
                    st.seen = st.seen.max(seq);
                    st.settle();
                }
            }
            return;
        }
        let Some(topic) = channel.strip_prefix(&self.topic_prefix) else {
            return;
        };
        if let Err(e) = crate::server::check_topic_name(topic, self.max_topic_len) {
            self.counters.malformed.fetch_add(1, Ordering::Relaxed);
            reader.bad_topic(channel, e);
            return;
        }
        let received = match envelope::parse(payload) {
            Ok(r) => r,
            Err(e) => {
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                reader.malformed(channel, e);
                return;
            }
        };
        let own = received.header.from == Some(self.instance.as_str());
        let oversized = received.payload.len() > self.config.max_message_bytes;
        let refuse = |reader: &mut Reader| {
            self.counters.malformed.fetch_add(1, Ordering::Relaxed);
            let len = received.payload.len();
            reader.log(channel, &format_args!("a payload of {len} bytes"));
        };
        if !own {
            if oversized {
                return refuse(reader);
            }
            self.counters.received.fetch_add(1, Ordering::Relaxed);
            let frame = SharedFrame::new(received.kind, received.payload);
            self.deliver(hub, topic, &frame, &received.header, None);
            return;
        }
        let mut st = self.lock();
        let seq = received.header.seq.unwrap_or(0);
        let sent = st.in_flight.binary_search_by_key(&seq, |q| q.seq);
        if oversized && sent.is_err() {
            // Our instance id is in every envelope: whoever can publish to
            // Redis can write it. Only a message we did send is exempt
            // from the bound (it was bounded when published here).
            drop(st);
            return refuse(reader);
        }
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        // Our own: delivered unless its session failed (then it was
        // delivered here already), in step with the failure path.
        if st.session != session || !st.live || seq < st.session_seq {
            return;
        }
        st.seen = st.seen.max(seq);
        if let Ok(i) = sent {
            st.in_flight[i].echoed = true;
        }
        st.settle();
        drop(st);
        let frame = SharedFrame::new(received.kind, received.payload);
        self.deliver(hub, topic, &frame, &received.header, received.header.skip);
    }

    /// Hands a message from Redis to the workers: with ids, kept in the
    /// topic's history under its id (a duplicate is dropped there), or
    /// delivered without one.
    fn deliver(
        &self,
        hub: &Hub,
        topic: &str,
        frame: &SharedFrame,
        header: &Header<'_>,
        skip: Option<Skip>,
    ) {
        match (&hub.history, self.ids, header.epoch, header.id) {
            (Some(history), true, Some(epoch), Some(id)) => {
                hub.ingest(history, topic, epoch, id, frame, skip, Instant::now());
            }
            (Some(_), true, _, _) => {
                hub.route_unstamped(topic, frame, skip);
            }
            _ => {
                hub.route(topic, frame, None, skip);
            }
        }
    }

    /// The publisher thread: sends batches while a session is up.
    fn run_publisher(&self, hub: &Hub) {
        let mut conn: Option<(u64, redis::Connection)> = None;
        let mut batch: Vec<Queued> = Vec::new();
        let mut pipe = redis::pipe();
        let mut scratch = Vec::new();
        let mut last_marker = Instant::now();
        // The id script's SHA1, loaded once per session (a restarted Redis
        // forgets it); distinct starting epochs from a random base.
        let mut script: Option<(u64, String)> = None;
        let mut epoch_base = {
            let mut b = [0u8; 8];
            let _ = getrandom::fill(&mut b);
            u64::from_le_bytes(b)
        };
        // Redis refuses an EXPIRE past 2^63 ms: `Duration::MAX` ("never",
        // as elsewhere in the configuration) is a century.
        let ttl = self.config.ids_ttl.min(crate::deadline::CENTURY);
        let ttl = ttl.as_secs().to_string();
        loop {
            let (session, marker) = {
                let mut st = self.lock();
                loop {
                    if conn
                        .as_ref()
                        .is_some_and(|(s, _)| *s != st.session || !st.live)
                    {
                        conn = None;
                    }
                    if conn.is_none() && st.live {
                        if let Some(c) = st.handover.take() {
                            conn = Some((st.session, c));
                        }
                    }
                    let ready = conn.is_some() && st.up;
                    if st.shutdown && (!ready || st.queue.is_empty()) {
                        if let (true, Some((_, c))) = (ready, conn.as_mut()) {
                            // Wake the subscriber so that it sees the shutdown.
                            let _: redis::RedisResult<()> =
                                redis::cmd("PUBLISH").arg(&self.control).arg("0").query(c);
                        }
                        return;
                    }
                    if ready {
                        let mut bytes = 0;
                        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                            // At shutdown the subscriber may be gone: no
                            // confirmation to wait for.
                            match st.queue.front() {
                                Some(q) if st.shutdown || !st.holds(&q.topic) => {}
                                _ => break,
                            }
                            let Some(q) = st.queue.pop_front() else { break };
                            bytes += q.frame.wire_len();
                            batch.push(Queued {
                                seq: q.seq,
                                topic: Arc::clone(&q.topic),
                                frame: q.frame.clone(),
                                skip: q.skip,
                                echoed: false,
                            });
                            st.in_flight.push_back(q);
                        }
                        let beat = last_marker.elapsed() >= self.config.heartbeat;
                        if !batch.is_empty() || st.wake || beat {
                            st.wake = false;
                            // Everything below the first publish still
                            // queued: a marker must not pass what is not
                            // sent yet (held behind a subscription under
                            // way, or past the batch's cap).
                            let marker = st.queue.front().map_or(st.next_seq, |q| q.seq) - 1;
                            break (st.session, marker);
                        }
                    }
                    st.publisher_idle = true;
                    let wait = self
                        .config
                        .heartbeat
                        .saturating_sub(last_marker.elapsed())
                        .max(Duration::from_millis(1));
                    st = self
                        .work
                        .wait_timeout(st, if ready { wait } else { self.config.heartbeat })
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    st.publisher_idle = false;
                }
            };
            let Some((_, c)) = conn.as_mut() else {
                continue;
            };
            if self.ids && script.as_ref().is_none_or(|(s, _)| *s != session) {
                match redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(PUBLISH_WITH_ID)
                    .query::<String>(c)
                {
                    Ok(sha) => script = Some((session, sha)),
                    Err(e) => {
                        batch.clear();
                        conn = None;
                        self.fail(hub, session, &format!("loading the id script: {e}"));
                        continue;
                    }
                }
            }
            pipe.clear();
            for q in &batch {
                let header = Header {
                    from: Some(&self.instance),
                    seq: Some(q.seq),
                    skip: q.skip,
                    ..Header::default()
                };
                envelope::write_header(&mut scratch, q.frame.kind(), &header);
                match &script {
                    Some((_, sha)) if self.ids => {
                        // The fields after the magic, without the end of
                        // line: the script puts epoch and id first.
                        let fields = &scratch[envelope::MAGIC.len()..scratch.len() - 1];
                        epoch_base = epoch_base.wrapping_add(1);
                        pipe.cmd("EVALSHA")
                            .arg(sha)
                            .arg(1)
                            .arg(format!("{}{}", self.ids_prefix, q.topic))
                            .arg(self.channel(&q.topic))
                            .arg(format!("{epoch_base:016x}"))
                            .arg(&ttl)
                            .arg(fields)
                            .arg(q.frame.payload())
                            .ignore();
                    }
                    _ => {
                        scratch.extend_from_slice(q.frame.payload());
                        pipe.cmd("PUBLISH")
                            .arg(self.channel(&q.topic))
                            .arg(&scratch[..])
                            .ignore();
                    }
                }
            }
            pipe.cmd("PUBLISH")
                .arg(&self.control)
                .arg(marker.to_string())
                .ignore();
            let sent = batch.len() as u64;
            batch.clear();
            if scratch.capacity() > MAX_BATCH_BYTES {
                scratch = Vec::new();
            }
            last_marker = Instant::now();
            match pipe.query::<()>(c) {
                Ok(()) => {
                    self.counters.sent.fetch_add(sent, Ordering::Relaxed);
                    let mut st = self.lock();
                    if st.session == session && st.live {
                        st.confirmed = st.confirmed.max(marker);
                        st.settle();
                    }
                }
                Err(e) => {
                    conn = None;
                    self.fail(hub, session, &format!("publishing: {e}"));
                }
            }
        }
    }
}

impl Relay for RedisRelay {
    fn publish(&self, message: Outbound) -> Accepted {
        let mut st = self.lock();
        if !st.up {
            drop(st);
            self.counters.local_only.fetch_add(1, Ordering::Relaxed);
            return Accepted::Local;
        }
        let queued = Queued {
            seq: st.next_seq,
            topic: message.topic,
            frame: message.frame,
            skip: message.skip,
            echoed: false,
        };
        let cost = queued.cost();
        let empty = st.queue.is_empty() && st.in_flight.is_empty();
        if st.bytes + cost > self.config.max_queue_bytes && !empty {
            drop(st);
            let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            if n == 0 || n.is_power_of_two() {
                log::warn!(
                    "redis: queue full ({} bytes waiting for Redis): {} publishes dropped so far",
                    self.config.max_queue_bytes,
                    n + 1
                );
            }
            return Accepted::Dropped;
        }
        st.next_seq += 1;
        st.bytes += cost;
        st.queue.push_back(queued);
        let idle = std::mem::replace(&mut st.publisher_idle, false);
        drop(st);
        if idle {
            self.work.notify_one();
        }
        Accepted::Relayed
    }

    fn topic_changed(&self, topic: &Arc<str>) {
        if self.ids {
            // Subscribed to every topic. Returning before the lock also
            // matters: with history this is called under a topic log's
            // lock, while the subscriber thread takes the state's lock
            // before a log's.
            return;
        }
        let mut st = self.lock();
        if !st.live {
            return; // the next session resubscribes from the hub's topics
        }
        st.pending.insert(Arc::clone(topic));
        st.wake = true;
        let idle = std::mem::replace(&mut st.publisher_idle, false);
        drop(st);
        if idle {
            self.work.notify_one();
        }
    }

    fn start(self: Arc<Self>, hub: Arc<Hub>) -> io::Result<Vec<JoinHandle<()>>> {
        let (relay, hub2) = (Arc::clone(&self), Arc::clone(&hub));
        let publisher = thread::Builder::new()
            .name("redis-publish".to_owned())
            .spawn(move || relay.run_publisher(&hub2))?;
        let subscriber = thread::Builder::new()
            .name("redis-subscribe".to_owned())
            .spawn(move || self.run_subscriber(&hub))?;
        Ok(vec![publisher, subscriber])
    }

    fn shutdown(&self) {
        self.lock().shutdown = true;
        self.work.notify_all();
        self.backoff.notify_all();
    }

    fn stats(&self) -> BrokerStats {
        let c = &self.counters;
        BrokerStats {
            enabled: true,
            connected: c.connected.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            local_only: c.local_only.load(Ordering::Relaxed),
            malformed: c.malformed.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            channels: c.channels.load(Ordering::Relaxed),
        }
    }
}

/// Logs malformed messages, at most once per [`LOG_INTERVAL`].
#[derive(Default)]
struct Reader {
    logged: Option<Instant>,
    since: u64,
}

impl Reader {
    fn malformed(&mut self, channel: &str, e: envelope::EnvelopeError) {
        self.log(channel, &e);
    }

    fn bad_topic(&mut self, channel: &str, e: crate::server::TopicError) {
        self.log(channel, &e);
    }

    fn log(&mut self, channel: &str, e: &dyn fmt::Display) {
        self.since += 1;
        if self.logged.is_some_and(|t| t.elapsed() < LOG_INTERVAL) {
            return;
        }
        log::warn!(
            "redis: dropped {} malformed or oversized message(s), the last on {channel:?}: {e}",
            self.since
        );
        self.logged = Some(Instant::now());
        self.since = 0;
    }
}

/// Full-jitter exponential backoff: a random delay up to a ceiling that
/// doubles after each failure, from `reconnect_min` to `reconnect_max`, so
/// that instances restarted together do not reconnect together.
struct Backoff {
    ceiling: Duration,
    max: Duration,
    rng: u64,
}

impl Backoff {
    fn new(config: &RedisConfig) -> Backoff {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        // Past a century is a century (`Duration::MAX` reads as "never"),
        // so that doubling the ceiling cannot overflow.
        let min = config.reconnect_min.min(crate::deadline::CENTURY);
        let max = config.reconnect_max.min(crate::deadline::CENTURY);
        Backoff {
            ceiling: min.max(Duration::from_millis(1)),
            max: max.max(min),
            rng: u64::from_le_bytes(seed) | 1,
        }
    }

    fn next(&mut self) -> Duration {
        // xorshift64*: enough to spread reconnects.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let fraction = (r >> 11) as f64 / (1u64 << 53) as f64;
        let delay = self.ceiling.mul_f64(fraction);
        self.ceiling = (self.ceiling * 2).min(self.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::MessageKind;

    #[test]
    fn logs_never_show_the_password() {
        let config = RedisConfig {
            url: "redis://user:s3cret@10.0.0.7:6380/2".to_owned(),
            password: Some("other".to_owned()),
            ..RedisConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("other"),
            "{shown}"
        );
        assert!(shown.contains("10.0.0.7:6380/2"), "{shown}");
        let relay = RedisRelay::new(config).unwrap();
        assert_eq!(relay.info.redis_settings().password(), Some("other"));
        assert!(!describe(&relay.info).contains("s3cret"));
    }

    #[test]
    fn bad_settings_are_refused() {
        for config in [
            RedisConfig {
                url: "http://x".to_owned(),
                ..RedisConfig::default()
            },
            RedisConfig {
                prefix: String::new(),
                ..RedisConfig::default()
            },
            RedisConfig {
                heartbeat: Duration::ZERO,
                ..RedisConfig::default()
            },
        ] {
            let e = RedisRelay::new(config).err().unwrap();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let config = RedisConfig {
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_millis(800),
            ..RedisConfig::default()
        };
        let mut b = Backoff::new(&config);
        let delays: Vec<Duration> = (0..50).map(|_| b.next()).collect();
        assert!(delays[0] <= Duration::from_millis(100));
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(800)));
        // Jitter: not all the same.
        assert!(delays[10..].iter().any(|d| *d != delays[10]));
    }

    #[test]
    fn backoff_never_overflows() {
        // Duration::MAX reads as "never" elsewhere in the configuration:
        // doubling the ceiling must not panic the subscriber thread.
        for (min, max) in [
            (Duration::MAX, Duration::MAX),
            (Duration::from_millis(100), Duration::MAX),
        ] {
            let config = RedisConfig {
                reconnect_min: min,
                reconnect_max: max,
                ..RedisConfig::default()
            };
            let mut b = Backoff::new(&config);
            for _ in 0..200 {
                assert!(b.next() <= max);
            }
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let relay = RedisRelay::new(RedisConfig {
            max_queue_bytes: 1000,
            ..RedisConfig::default()
        })
        .unwrap();
        let message = || Outbound {
            topic: Arc::from("t"),
            frame: SharedFrame::new(MessageKind::Text, &[b'x'; 300]),
            skip: None,
        };
        // Not connected: local.
        assert!(matches!(relay.publish(message()), Accepted::Local));
        relay.lock().up = true;
        let outcomes: Vec<bool> = (0..5)
            .map(|_| matches!(relay.publish(message()), Accepted::Relayed))
            .collect();
        assert_eq!(outcomes, [true, true, false, false, false]);
        assert_eq!(relay.stats().dropped, 3);
        let st = relay.lock();
        assert_eq!(st.queue.len(), 2);
        assert_eq!(st.queue.iter().map(|q| q.seq).collect::<Vec<_>>(), [1, 2]);
    }

    /// A redis-server of this test on a free loopback port, killed by PID
    /// when dropped.
    struct TestRedis {
        child: std::process::Child,
        port: u16,
        dir: std::path::PathBuf,
    }

    impl TestRedis {
        fn start() -> TestRedis {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir = std::env::temp_dir()
                .join(format!("rfc6455-unit-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(&dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("redis-server");
            let r = TestRedis { child, port, dir };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let up = redis::Client::open(r.url())
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
                if up.is_ok() {
                    return r;
                }
                assert!(Instant::now() < deadline, "redis-server did not come up");
                thread::sleep(Duration::from_millis(20));
            }
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/0", self.port)
        }

        fn signal(&self, name: &str) {
            let status = std::process::Command::new("kill")
                .arg(format!("-{name}"))
                .arg(self.child.id().to_string())
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    impl Drop for TestRedis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// The marker the publisher sends is `next_seq - 1`, which counts
    /// publishes still in the queue (held by a subscription under way, or
    /// past a batch's cap). When the subscriber reads that marker after
    /// such a publish has been moved to `in_flight` and sent, the marker
    /// drops it from `in_flight` although Redis has not processed it; if
    /// the session then fails, `fail` does not deliver it here: a local
    /// subscriber never gets it.
    #[test]
    fn a_marker_sent_while_a_publish_waits_does_not_pass_it() {
        let redis = TestRedis::start();
        let relay = Arc::new(
            RedisRelay::new(RedisConfig {
                url: redis.url(),
                // No heartbeat marker in the way.
                heartbeat: Duration::from_secs(60),
                timeout: Duration::from_millis(500),
                ..RedisConfig::default()
            })
            .unwrap(),
        );
        let hub = Arc::new(Hub::new(1, 1 << 20, None, None));
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).unwrap());
        hub.set_wakers(vec![waker]);
        let topic: Arc<str> = Arc::from("t");
        hub.count(&topic, 0, 1); // a local subscriber of t on worker 0
                                 // The test reads the instance's control channel as the relay's
                                 // subscriber thread would (that thread is not started: the test
                                 // plays it, choosing when it reads what Redis sent it).
        let watcher = redis::Client::open(redis.url()).unwrap();
        let mut watch_conn = watcher.get_connection().unwrap();
        let mut watch = watch_conn.as_pubsub();
        watch
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        watch.subscribe(&relay.control).unwrap();
        // A session up, as run_subscriber makes it.
        let (_sub, publisher) = relay.connect().unwrap();
        {
            let mut st = relay.lock();
            st.session = 1;
            st.live = true;
            st.up = true;
            st.handover = Some(publisher);
            st.session_seq = st.next_seq;
        }
        let publisher_thread = {
            let (relay, hub) = (Arc::clone(&relay), Arc::clone(&hub));
            thread::spawn(move || relay.run_publisher(&hub))
        };
        // t's SUBSCRIBE is under way: a publish to t waits, and the
        // publisher wakes the subscriber with a marker.
        {
            let mut st = relay.lock();
            st.applying.insert(Arc::clone(&topic));
            st.wake = true;
        }
        let outbound = Outbound {
            topic: Arc::clone(&topic),
            frame: SharedFrame::new(MessageKind::Text, b"held"),
            skip: None,
        };
        assert!(matches!(relay.publish(outbound), Accepted::Relayed));
        let marker = watch.get_message().unwrap();
        assert_eq!(marker.get_channel_name(), relay.control);
        // Redis processed that marker; now it stalls (SIGSTOP), and the
        // SUBSCRIBE is confirmed: the publisher sends the held publish.
        redis.signal("STOP");
        relay.lock().applying.remove(&topic);
        relay.work.notify_all();
        let deadline = Instant::now() + Duration::from_secs(5);
        while relay.lock().in_flight.len() != 1 {
            assert!(Instant::now() < deadline, "never sent");
            thread::sleep(Duration::from_millis(1));
        }
        // The subscriber, a little behind, reads the marker Redis sent
        // before the stall.
        relay.on_message(&hub, 1, &marker, &mut Reader::default());
        let after_marker = relay.lock().in_flight.len();
        // The batch times out: the session fails, and what was sent and
        // not seen back must be delivered here.
        let deadline = Instant::now() + Duration::from_secs(5);
        while relay.lock().live {
            assert!(Instant::now() < deadline, "the session never failed");
            thread::sleep(Duration::from_millis(5));
        }
        let mut inbox = Vec::new();
        hub.take_inbox(0, &mut inbox);
        let delivered = inbox.iter().any(|e| e.frame.payload() == b"held");
        redis.signal("CONT");
        relay.shutdown();
        publisher_thread.join().unwrap();
        assert!(
            delivered,
            "a publish Redis never processed was dropped from in_flight by the marker \
             (in_flight after the marker: {after_marker}), so it reached no local subscriber; \
             local_only = {}",
            relay.stats().local_only
        );
    }
}
