//! A client that stays connected (feature `std`): [`Reconnecting`] wraps
//! the blocking [`Client`], and when the connection is lost (an error, the
//! server's close, a [keepalive](crate::client::Keepalive) timeout) it
//! connects again after a delay drawn with exponential backoff and full
//! jitter, runs a hook that resubscribes, and, for topic URLs of the
//! bundled server, resumes after the last message id it saw. The delays
//! start over only after a connection that lasted at least
//! [`Backoff::max`]: a server that accepts and closes at once (a 1008 for
//! a topic limit, say) sees them grow.
//!
//! ```no_run
//! use rfc6455::reconnect::{Incoming, ReconnectConfig, Reconnecting};
//!
//! let config = ReconnectConfig { resume: true, ..ReconnectConfig::default() };
//! let mut news = Reconnecting::new("ws://127.0.0.1:9001/topic/news", config);
//! loop {
//!     match news.recv()? {
//!         Incoming::Tagged { id, payload, .. } => println!("#{id}: {payload:?}"),
//!         Incoming::Subscribed { recovered: Some(false), .. } => println!("gap: resync"),
//!         Incoming::Disconnected { error, retry_in } => {
//!             eprintln!("lost ({error}), again in {retry_in:?}")
//!         }
//!         _ => {}
//!     }
//! }
//! # Ok::<(), rfc6455::client::Error>(())
//! ```
//!
//! Why jitter: after a server restart every client notices at once; with a
//! fixed delay they all come back in the same instant (a reconnect storm),
//! with full jitter they spread over the whole backoff window
//! (`scripts/bench-storm.sh` measures both).

use std::boxed::Box;
use std::collections::VecDeque;
use std::fmt;
use std::prelude::rust_2021::*;
use std::string::String;
use std::time::{Duration, Instant};
use std::vec::Vec;

use base64::Engine as _;

use crate::client::{Client, ClientConfig, Error};
use crate::connection::Event;
use crate::handshake::ClientError;
use crate::CloseCode;

/// Exponential backoff with full jitter: the delay before attempt `n`
/// (from 0) is drawn uniformly from `[0, min(max, initial * factor^n))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The ceiling of the first delay. Default 1 s.
    pub initial: Duration,
    /// The largest ceiling. Default 5 s, Socket.IO's `reconnectionDelayMax`:
    /// with a larger one, clients that failed a few times while a server
    /// restarted wait long after it is back (`benches/results/storm.md`:
    /// with 30 s, the last of 10,000 clients came back 28 s after a 3 s
    /// restart; with 5 s, see there).
    pub max: Duration,
    /// How much the ceiling grows per attempt. Default 2.
    pub factor: f64,
    /// Draw the delay at random below the ceiling (full jitter); without
    /// it every delay is the ceiling itself. Default true.
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5),
            factor: 2.0,
            jitter: true,
        }
    }
}

impl Backoff {
    /// The ceiling of attempt `attempt`'s delay.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let grown = self.initial.as_secs_f64() * self.factor.max(1.0).powi(attempt.min(64) as i32);
        // Past what a Duration holds (a `max` of Duration::MAX), `max`.
        Duration::try_from_secs_f64(grown.min(self.max.as_secs_f64()).max(0.0)).unwrap_or(self.max)
    }

    /// The delay before attempt `attempt`, with `unit` a random number in
    /// `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        if self.jitter {
            // NaN is no fraction: none of the delay. (`mul_f64` would panic
            // on it, and on a ceiling near Duration::MAX times 1.)
            let unit = if unit.is_nan() {
                0.0
            } else {
                unit.clamp(0.0, 1.0)
            };
            Duration::try_from_secs_f64(ceiling.as_secs_f64() * unit).unwrap_or(ceiling)
        } else {
            ceiling
        }
    }
}

/// A random number in `[0, 1)` from the OS source.
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Settings for [`Reconnecting`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectConfig {
    /// How each connection is made (timeouts, headers, keepalive).
    pub client: ClientConfig,
    /// The delays between attempts.
    pub backoff: Backoff,
    /// Ask the server for message ids (`?ids=1`) and, after a reconnect,
    /// for what was missed (`?since=ID&epoch=E`): for topic URLs of a
    /// server that keeps history. Default false.
    pub resume: bool,
    /// Give up after this many failed attempts in a row (the last error is
    /// returned). Default: never.
    pub max_attempts: Option<u32>,
    /// Most messages [`Reconnecting::send_text`] keeps while disconnected.
    /// Default 100.
    pub max_queued: usize,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        ReconnectConfig {
            client: ClientConfig {
                keepalive: Some(crate::client::Keepalive::default()),
                ..ClientConfig::default()
            },
            backoff: Backoff::default(),
            resume: false,
            max_attempts: None,
            max_queued: 100,
        }
    }
}

/// A message's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Text.
    Text(String),
    /// Binary data.
    Binary(Vec<u8>),
}

/// What [`Reconnecting::recv`] returns.
#[derive(Debug)]
pub enum Incoming {
    /// A text message (as sent, not tagged).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A topic message with its id (resume mode).
    Tagged {
        /// The topic.
        topic: String,
        /// Its id in the topic; 0 for a message without id (published
        /// plainly through Redis to servers that share topics: not kept,
        /// so a resume does not bring it back).
        id: u64,
        /// The message.
        payload: Payload,
    },
    /// The server's answer to a subscription in resume mode.
    Subscribed {
        /// The topic.
        topic: String,
        /// The epoch its ids belong to.
        epoch: String,
        /// The newest id when subscribing.
        last: u64,
        /// Whether the resume filled the gap exactly (`None` on a fresh
        /// subscription). `Some(false)`: messages may be missing before
        /// those replayed next; resync.
        recovered: Option<bool>,
    },
    /// A connection is up (the first or a new one) and the resubscribe
    /// hook has run.
    Connected {
        /// False for the first connection.
        reconnected: bool,
    },
    /// The connection was lost; the next [`Reconnecting::recv`] waits
    /// `retry_in` and connects again.
    Disconnected {
        /// What ended it.
        error: Error,
        /// The delay before the next attempt.
        retry_in: Duration,
    },
}

type Hook = Box<dyn FnMut(&mut Client) -> Result<(), Error> + Send>;

/// A client that reconnects: see the [module docs](self).
pub struct Reconnecting {
    url: String,
    config: ReconnectConfig,
    client: Option<Client>,
    on_connect: Option<Hook>,
    /// The backoff's attempt number: failed attempts and short-lived
    /// connections since the last connection that lasted.
    attempt: u32,
    /// Failed attempts since the last success, for `max_attempts`.
    failures: u32,
    /// When the current connection came up.
    connected_at: Option<Instant>,
    /// Set by a loss: wait this long before connecting.
    pending_delay: Option<Duration>,
    connected_before: bool,
    epoch: Option<String>,
    last_id: Option<u64>,
    queue: VecDeque<String>,
    /// A loss a send ran into, for the next `recv` to report.
    lost: Option<Error>,
    closed: bool,
}

impl fmt::Debug for Reconnecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconnecting")
            .field("url", &self.url)
            .field("connected", &self.client.is_some())
            .field("epoch", &self.epoch)
            .field("last_id", &self.last_id)
            .finish_non_exhaustive()
    }
}

impl Reconnecting {
    /// A client for `url`; it connects on the first [`recv`](Self::recv).
    pub fn new(url: &str, config: ReconnectConfig) -> Reconnecting {
        Reconnecting {
            url: url.to_owned(),
            config,
            client: None,
            on_connect: None,
            attempt: 0,
            failures: 0,
            connected_at: None,
            pending_delay: None,
            connected_before: false,
            epoch: None,
            last_id: None,
            queue: VecDeque::new(),
            lost: None,
            closed: false,
        }
    }

    /// Runs `hook` on every new connection before anything else is sent
    /// (queued messages go after it): subscribe again, authenticate.
    pub fn on_connect(
        &mut self,
        hook: impl FnMut(&mut Client) -> Result<(), Error> + Send + 'static,
    ) {
        self.on_connect = Some(Box::new(hook));
    }

    /// The last message id received (resume mode) and its epoch.
    pub fn position(&self) -> Option<(u64, &str)> {
        Some((self.last_id?, self.epoch.as_deref()?))
    }

    /// Whether a connection is up.
    pub fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    /// The current connection, if any.
    pub fn client(&mut self) -> Option<&mut Client> {
        self.client.as_mut()
    }

    /// The URL the next attempt connects to: the resume parameters appended
    /// to the configured URL.
    pub fn connect_url(&self) -> String {
        if !self.config.resume {
            return self.url.clone();
        }
        let sep = if self.url.contains('?') { '&' } else { '?' };
        match (self.last_id, &self.epoch) {
            (Some(id), Some(epoch)) => {
                let epoch = percent_encode(epoch);
                format!("{}{sep}since={id}&epoch={epoch}", self.url)
            }
            _ => format!("{}{sep}ids=1", self.url),
        }
    }

    /// Sends a text message now, or queues it while disconnected (up to
    /// [`ReconnectConfig::max_queued`]; beyond, `Err(Error::Send(Full))`).
    /// A send that fails on a lost connection is queued for the next one.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        if let Some(client) = &mut self.client {
            match client.send_text(text) {
                Ok(()) => return Ok(()),
                Err(Error::Send(e)) => return Err(Error::Send(e)),
                Err(e) => {
                    // Lost: the next recv reports it.
                    self.drop_client();
                    self.lost = Some(e);
                }
            }
        }
        if self.queue.len() >= self.config.max_queued {
            return Err(Error::Send(crate::SendError::Full));
        }
        self.queue.push_back(text.to_owned());
        Ok(())
    }

    /// Drops the connection and connects again at the next
    /// [`recv`](Self::recv) (after a network change, say), resuming as
    /// after any loss.
    pub fn reconnect_now(&mut self) {
        if let Some(mut client) = self.drop_client() {
            client.set_close_timeout(Duration::from_secs(1));
            let _ = client.close(CloseCode::GOING_AWAY, "reconnecting");
        }
        self.lost = None;
        self.pending_delay = None;
    }

    /// Closes for good: no more reconnects.
    pub fn close(&mut self) -> Result<(), Error> {
        self.closed = true;
        match self.client.take() {
            Some(mut client) => client.close(CloseCode::NORMAL, "").map(|_| ()),
            None => Ok(()),
        }
    }

    /// The next thing that happens: a message, a (re)connection, a loss.
    /// Blocks while waiting for a reconnect. Fails with
    /// [`Error::Timeout`] when the connection's read timeout (as
    /// configured, or set through [`client`](Self::client), which later
    /// connections keep) passes without a message (the connection stays
    /// up), and with the last error when
    /// [`max_attempts`](ReconnectConfig::max_attempts) fail in a row or
    /// the server refuses the handshake with a status retrying will not
    /// change (4xx other than 408 and 429).
    pub fn recv(&mut self) -> Result<Incoming, Error> {
        if self.closed {
            return Err(Error::Closed(CloseCode::NORMAL, String::new()));
        }
        if let Some(error) = self.lost.take() {
            return Ok(self.disconnected(error));
        }
        if self.client.is_none() {
            return self.connect();
        }
        // The client's own timeout (the caller may have set it through
        // `client()`), as one deadline: pings and pongs do not restart it.
        let deadline = self.client.as_ref().and_then(Client::recv_deadline);
        loop {
            let Some(client) = self.client.as_mut() else {
                return self.connect();
            };
            // Owned, so the client is free again below.
            enum Got {
                Text(String),
                Binary(Vec<u8>),
                Passed,
                Failed(Error),
            }
            let got = match client.recv_by(deadline) {
                Ok(Event::Text(text)) => Got::Text(text.to_owned()),
                Ok(Event::Binary(data)) => Got::Binary(data.to_vec()),
                Ok(Event::Close { code, reason }) => Got::Failed(Error::Closed(
                    code.unwrap_or(CloseCode::NO_STATUS),
                    reason.to_owned(),
                )),
                Ok(_) => Got::Passed, // pings are answered; pongs and fragments pass
                Err(e) => Got::Failed(e),
            };
            let lost = match got {
                Got::Text(text) => return Ok(self.read_text(text)),
                Got::Binary(data) => return Ok(Incoming::Binary(data)),
                Got::Passed => continue,
                Got::Failed(Error::Timeout) => return Err(Error::Timeout),
                Got::Failed(e) => e,
            };
            self.drop_client();
            return Ok(self.disconnected(lost));
        }
    }

    /// Takes the connection away, keeping its read timeout for the next
    /// one: a caller who set it through [`client`](Self::client) expects
    /// it to hold after a reconnect too.
    fn drop_client(&mut self) -> Option<Client> {
        let client = self.client.take()?;
        self.config.client.read_timeout = client.read_timeout();
        Some(client)
    }

    /// The loss of the connection, as reported: the next attempt waits
    /// for the delay drawn here.
    fn disconnected(&mut self, error: Error) -> Incoming {
        if self
            .connected_at
            .take()
            .is_some_and(|at| at.elapsed() >= self.config.backoff.max)
        {
            self.attempt = 0; // it lasted: start the delays over
        }
        let retry_in = self.next_delay();
        self.pending_delay = Some(retry_in);
        Incoming::Disconnected { error, retry_in }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.config.backoff.delay(self.attempt, random_unit());
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Waits the pending delay, then tries until connected (or giving up).
    fn connect(&mut self) -> Result<Incoming, Error> {
        loop {
            if let Some(delay) = self.pending_delay.take() {
                std::thread::sleep(delay);
            }
            match Client::connect_with(&self.connect_url(), &self.config.client) {
                Ok(client) => {
                    self.client = Some(client);
                    if let Err(e) = self.start() {
                        self.drop_client();
                        self.failures = self.failures.saturating_add(1);
                        if self.give_up() {
                            return Err(self.given_up(e));
                        }
                        self.pending_delay = Some(self.next_delay());
                        continue;
                    }
                    self.failures = 0;
                    self.connected_at = Some(Instant::now());
                    let reconnected = self.connected_before;
                    self.connected_before = true;
                    return Ok(Incoming::Connected { reconnected });
                }
                Err(e) => {
                    self.failures = self.failures.saturating_add(1);
                    if is_final(&e) || self.give_up() {
                        return Err(self.given_up(e));
                    }
                    self.pending_delay = Some(self.next_delay());
                }
            }
        }
    }

    /// After giving up: a caller that calls `recv` again starts a new
    /// round of attempts, after a delay (never at once, in a loop).
    fn given_up(&mut self, e: Error) -> Error {
        self.failures = 0;
        self.pending_delay = Some(self.next_delay());
        e
    }

    fn give_up(&self) -> bool {
        self.config
            .max_attempts
            .is_some_and(|max| self.failures >= max)
    }

    /// Runs the hook and sends what was queued.
    fn start(&mut self) -> Result<(), Error> {
        let Some(client) = self.client.as_mut() else {
            return Ok(());
        };
        if let Some(hook) = &mut self.on_connect {
            hook(client)?;
        }
        while let Some(text) = self.queue.front() {
            client.send_text(text)?;
            self.queue.pop_front();
        }
        Ok(())
    }

    /// A text message: a tagged one or a notice in resume mode, else as is.
    fn read_text(&mut self, text: String) -> Incoming {
        if !self.config.resume || !text.starts_with('{') {
            return Incoming::Text(text);
        }
        let Ok(serde_json::Value::Object(v)) = serde_json::from_str(&text) else {
            return Incoming::Text(text);
        };
        let topic = v.get("topic").and_then(|t| t.as_str());
        let id = v.get("id").and_then(|i| i.as_u64());
        let epoch = v.get("epoch").and_then(|e| e.as_str());
        match (v.get("type").and_then(|t| t.as_str()), topic, id, epoch) {
            (Some("subscribed"), Some(topic), _, Some(epoch)) => {
                let last = v.get("last").and_then(|l| l.as_u64()).unwrap_or(0);
                let recovered = v.get("recovered").and_then(|r| r.as_bool());
                match recovered {
                    None => self.last_id = Some(last),
                    // What follows is all that is kept of this epoch.
                    Some(false) => self.last_id = Some(0),
                    Some(true) => {}
                }
                self.epoch = Some(epoch.to_owned());
                Incoming::Subscribed {
                    topic: topic.to_owned(),
                    epoch: epoch.to_owned(),
                    last,
                    recovered,
                }
            }
            // No id: a message published plainly through Redis, not kept
            // by the server (id 0, the resume point stays).
            (None, Some(topic), id, None) => {
                let id = id.unwrap_or(0);
                let payload = match (v.get("data"), v.get("binary")) {
                    (Some(serde_json::Value::String(s)), _) => Payload::Text(s.clone()),
                    (_, Some(serde_json::Value::String(b))) => {
                        match base64::engine::general_purpose::STANDARD.decode(b) {
                            Ok(bytes) => Payload::Binary(bytes),
                            Err(_) => return Incoming::Text(text),
                        }
                    }
                    _ => return Incoming::Text(text),
                };
                if id > 0 {
                    self.last_id = Some(id);
                }
                Incoming::Tagged {
                    topic: topic.to_owned(),
                    id,
                    payload,
                }
            }
            _ => Incoming::Text(text),
        }
    }
}

/// `value` for a URL's query: what is not unreserved (RFC 3986 section
/// 2.3) as `%XX`. The epoch is the server's text: sent as it came, a space
/// or `#` in it would make every later URL invalid, and a `&` would add a
/// parameter.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A refusal that retrying will not change: a bad URL or setting, a
/// server certificate that fails verification, or a 4xx answer other than
/// 408 (timeout) and 429 (too many requests).
fn is_final(e: &Error) -> bool {
    match e {
        Error::Url(_) => true,
        Error::Io(e) => e.kind() == std::io::ErrorKind::InvalidInput,
        #[cfg(feature = "tls")]
        Error::Tls(e) => matches!(
            e.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_))
        ),
        Error::Handshake(ClientError::Rejected { status, .. }) => {
            (400..500).contains(status) && *status != 408 && *status != 429
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::panic;

    #[test]
    fn backoff_grows_to_its_ceiling_and_jitters_below_it() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
        assert_eq!(b.ceiling(2), Duration::from_secs(4));
        assert_eq!(b.ceiling(3), Duration::from_secs(5));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(5));
        assert_eq!(b.delay(2, 0.0), Duration::ZERO);
        assert_eq!(b.delay(2, 0.5), Duration::from_secs(2));
        let fixed = Backoff {
            jitter: false,
            factor: 1.0,
            initial: Duration::from_secs(5),
            ..b
        };
        assert_eq!(fixed.delay(7, 0.1), Duration::from_secs(5));
        let draws: Vec<f64> = (0..1000).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = draws.iter().sum::<f64>() / 1000.0;
        assert!((0.4..0.6).contains(&mean), "{mean}");
    }

    #[test]
    fn delay_takes_any_unit_and_any_ceiling_without_panicking() {
        let b = Backoff::default();
        assert_eq!(b.delay(2, f64::NAN), Duration::ZERO);
        assert_eq!(b.delay(2, -1.0), Duration::ZERO);
        assert_eq!(b.delay(2, f64::INFINITY), Duration::from_secs(4));
        let never = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
            ..b
        };
        // Duration::MAX as f64 rounds up past what a Duration holds.
        assert_eq!(never.delay(3, 1.0), Duration::MAX);
        assert!(never.delay(3, 0.5) < Duration::MAX);
    }

    #[test]
    fn resume_urls_and_envelopes() {
        let config = ReconnectConfig {
            resume: true,
            ..ReconnectConfig::default()
        };
        let mut r = Reconnecting::new("ws://h/topic/a", config);
        assert_eq!(r.connect_url(), "ws://h/topic/a?ids=1");
        let hello = r#"{"type":"subscribed","topic":"a","epoch":"e1","last":4}"#;
        assert!(matches!(
            r.read_text(hello.into()),
            Incoming::Subscribed {
                last: 4,
                recovered: None,
                ..
            }
        ));
        assert_eq!(r.connect_url(), "ws://h/topic/a?since=4&epoch=e1");
        match r.read_text(r#"{"topic":"a","id":5,"data":"x\n"}"#.into()) {
            Incoming::Tagged { id: 5, payload, .. } => {
                assert_eq!(payload, Payload::Text("x\n".into()))
            }
            other => panic!("{other:?}"),
        }
        match r.read_text(r#"{"topic":"a","id":6,"binary":"AP8="}"#.into()) {
            Incoming::Tagged { payload, .. } => assert_eq!(payload, Payload::Binary(vec![0, 255])),
            other => panic!("{other:?}"),
        }
        assert_eq!(r.position(), Some((6, "e1")));
        match r.read_text(r#"{"topic":"a","data":"plain via redis"}"#.into()) {
            Incoming::Tagged { id: 0, payload, .. } => {
                assert_eq!(payload, Payload::Text("plain via redis".into()))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.position(), Some((6, "e1")), "no id: the point stays");
        assert!(matches!(r.read_text("{not json".into()), Incoming::Text(_)));
        assert!(matches!(r.read_text("plain".into()), Incoming::Text(_)));
        let lost = r#"{"type":"subscribed","topic":"a","epoch":"e2","last":2,"recovered":false}"#;
        r.read_text(lost.into());
        assert_eq!(
            r.position(),
            Some((0, "e2")),
            "the replay that follows moves it"
        );
        // An epoch that is not plain text goes percent-encoded: the URL
        // stays valid, with no parameter added.
        let odd = r#"{"type":"subscribed","topic":"a","epoch":"e 1#&x=\u00fc","last":4}"#;
        r.read_text(odd.into());
        let url = r.connect_url();
        assert_eq!(url, "ws://h/topic/a?since=4&epoch=e%201%23%26x%3D%C3%BC");
        assert!(crate::handshake::WsUrl::parse(&url).is_ok());
        let plain = Reconnecting::new("ws://h/x?k=v", ReconnectConfig::default());
        assert_eq!(plain.connect_url(), "ws://h/x?k=v");
    }
}
