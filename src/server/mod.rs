//! A mio event loop that serves WebSocket connections (feature `server`).
//!
//! Each worker thread runs its own `Poll` over its own connections, with its
//! own `SO_REUSEPORT` listener: the kernel spreads new connections over the
//! workers and nothing is shared on the hot path. The loop is generic over a
//! [`Handler`], so the same machinery serves the echo server and any other
//! message logic.
//!
//! Per connection the loop reads until the socket would block (with a
//! budget per wake-up so one busy peer cannot starve the others), turns the
//! bytes into events with the sans-I/O [`Connection`](crate::Connection),
//! and writes replies straight to the socket, queuing only what the socket
//! did not take. A large message is echoed with one vectored write of a new
//! header plus the payload where it was received; small ones are batched so
//! one read's worth of echoes leaves in one write. When a connection's
//! queued output passes a high-water mark, the loop stops reading from it
//! until it drains below a low-water mark, so memory stays bounded whatever
//! the peer does.
//!
//! Connections subscribe to topics ([`Peer::subscribe`]) and anything can
//! publish to them: a handler ([`Peer::publish`], [`Context::publish`]),
//! a timer ([`Context::set_interval`]), any other thread
//! ([`ServerHandle::publish`]). A published message is framed once and
//! every subscriber's queue holds a reference to it; a burst of small ones
//! to one topic is copied once more into one run, which each subscriber
//! queues and writes as one piece. Each worker keeps its own subscription
//! table, so fan-out takes no lock. A subscriber that
//! falls behind loses messages or is closed ([`SlowSubscriber`]); the
//! publisher never waits for it. With [`ServerConfig::history`] every
//! message gets an id per topic and a client can resume after a reconnect
//! ([`Peer::subscribe_with_ids`]).
//!
//! | module | concern |
//! |---|---|
//! | `worker` | the event loop: readiness, reads, writes, timers, deliveries |
//! | `upgrade`, `http` | the opening request: upgrades, plain requests and their bodies, responses |
//! | `topics` | one worker's subscriptions; the slow-subscriber policy |
//! | `publication` | published messages on their way to subscribers: runs, compressed copies |
//! | `transport`, `tls` | the socket a worker writes through: plain TCP or the TLS layer |
//! | `buffers` | read and message buffers lent to connections, and taken back when idle |
//! | `hub` | what workers share: inboxes, the topic directory, counters |
//! | `history` | ids per topic, the bounded history, resume ([`HistoryLimits`], [`Since`]) |
//! | `heartbeat` | the application heartbeat browsers send ([`Heartbeat`]) |
//! | `json` | the little JSON the server writes |
//! | `open_files` | the process' open-file limit, which caps the connections ([`raise_open_file_limit`]) |
//! | `context` | what handlers reach: [`Context`], [`Peer`] |
//! | `timers` | connection deadlines and handler timers |
//! | [`broker`] | relays to other instances: the envelope, and Redis pub/sub (feature `redis`, `ServerConfig::redis`) |
//! | [`app`] | the bundled application the binary runs |
//! | [`cli`] | parsing helpers for the bundled tools: sizes and durations |
//!
//! ```no_run
//! use rfc6455::server::{Echo, Server, ServerConfig};
//!
//! let server = Server::bind(ServerConfig::default())?;
//! println!("listening on {}", server.local_addr());
//! let handle = server.handle();
//! // handle.shutdown() from another thread (or a signal) stops it gracefully.
//! server.run(|| Echo)?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::prelude::rust_2021::*;
pub mod app;
pub mod broker;
mod buffers;
pub mod cli;
mod context;
mod exposition;
mod heartbeat;
mod history;
mod http;
mod hub;
mod json;
mod open_files;
mod publication;
mod timers;
#[cfg(feature = "tls")]
pub mod tls;
mod topics;
mod transport;
mod upgrade;
mod worker;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::close::CloseCode;
use crate::connection::{Config, MessageKind, SharedFrame};

pub use crate::handshake::{Request, UpgradeRequest};
#[cfg(feature = "redis")]
pub use broker::redis::{RedisConfig, PUBLISH_WITH_ID};
pub use broker::BrokerStats;
pub use context::{Context, Peer};
pub use heartbeat::Heartbeat;
pub use history::{HistoryLimits, Since};
pub use http::{HttpRequest, Response};
pub use hub::{Stats, TopicCounts};
pub use open_files::{raise_open_file_limit, OpenFileLimit};
pub use timers::TimerId;
pub use topics::{check_topic_name, SlowSubscriber, TopicError, TopicLimits};

/// Everything the server can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on (IPv4 or IPv6). Default `127.0.0.1:9001`.
    pub listen: SocketAddr,
    /// Worker threads, each with its own event loop. Default: one per core.
    pub threads: usize,
    /// Most open connections over all workers; more are refused with 503.
    /// Each is an open file: the process' limit must allow
    /// [`open_files_needed`](Self::open_files_needed). Default 10 000.
    pub max_connections: usize,
    /// Per-connection protocol settings and limits.
    pub connection: Config,
    /// Time a client has to complete the opening handshake (or a plain
    /// request, body included). The response to a plain request, once
    /// answered, is cut off only if it makes no progress for as long.
    /// Default 10 s.
    pub handshake_timeout: Duration,
    /// Close a connection whose peer sent no message for this long
    /// (1001). Pings, pongs and heartbeat texts do not count (the pongs
    /// answering [`ping_interval`](Self::ping_interval)'s pings would
    /// otherwise keep every live peer from ever being idle); the bytes of
    /// a message still arriving do. Default: none.
    pub idle_timeout: Option<Duration>,
    /// Ping a connection that has been quiet for this long, and drop it if
    /// nothing arrives within another interval (close 1011), so a peer
    /// that vanished without a FIN (a phone that lost its network, a NAT
    /// that forgot the flow) does not hold its slot and its backlog for
    /// good. Default 25 s, as the binary's `--ping-interval` (under the
    /// 30-60 s after which proxies and NATs commonly drop quiet flows);
    /// `None` never pings.
    pub ping_interval: Option<Duration>,
    /// After sending a close frame, wait this long for the peer's before
    /// dropping the connection. Default 5 s.
    pub close_timeout: Duration,
    /// Drop a connection whose queued output has made no progress for this
    /// long: a peer that stopped reading (and, with backpressure, is no
    /// longer read either). Default 60 s.
    pub send_timeout: Option<Duration>,
    /// Origins allowed to connect (`Origin` header, exact match); empty
    /// means any. A browser always sends `Origin`; checking it defends
    /// against cross-site WebSocket hijacking. Pair it with a token or
    /// cookie check for authentication.
    pub allowed_origins: Vec<String>,
    /// Subprotocols this server speaks, in its order of preference.
    pub subprotocols: Vec<String>,
    /// Value of the `Server` header in responses.
    pub server_name: String,
    /// Most bytes read from one connection per wake-up before the loop
    /// serves the others (0 counts as 1). Default 256 KiB.
    pub read_budget: usize,
    /// Queued output above which the loop stops reading from a connection.
    /// Default 1 MiB.
    pub high_water: usize,
    /// Queued output below which reading resumes. Default 256 KiB.
    pub low_water: usize,
    /// Payloads at least this large are written straight from the read
    /// buffer with a vectored write instead of being copied into the output
    /// queue. Default 4 KiB.
    pub direct_write_min: usize,
    /// Limits on topic names and subscriptions per connection.
    pub topics: TopicLimits,
    /// Queued output above which a subscriber is too slow for published
    /// messages: [`slow_subscriber`](Self::slow_subscriber) decides what
    /// happens. Default 1 MiB.
    pub slow_subscriber_limit: usize,
    /// What a slow subscriber gets. Default [`SlowSubscriber::Drop`].
    pub slow_subscriber: SlowSubscriber,
    /// Most bytes of published messages waiting for one worker (sent from
    /// other threads and not yet taken); beyond it a publish skips that
    /// worker and counts it ([`Stats::inbox_dropped`]); that worker's
    /// subscribers with ids are closed with 1013 where the message would
    /// have come, so that they resume. Default 64 MiB.
    pub max_inbox_bytes: usize,
    /// Largest body of a plain HTTP request; 413 beyond. Default 1 MiB.
    /// A handler that answers from the head
    /// ([`Handler::on_http_head`]) keeps the server from reading bodies
    /// it would refuse.
    pub max_body: usize,
    /// permessage-deflate (RFC 7692): how offers are answered; `None`
    /// declines them all. Default: on, without context takeover in either
    /// direction, so that no connection holds compression state between
    /// messages (each worker thread pools the DEFLATE state its messages
    /// borrow). A published message ([`SharedFrame`]) is compressed once
    /// per worker for all the subscribers that negotiated deflate, with or
    /// without context takeover ([`Stats::compressed`] counts it); the
    /// others get it as it is.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
    /// Serve TLS (`wss://`, and `https://` for plain requests) with this
    /// certificate: every connection starts with a TLS handshake, which
    /// the handshake timeout covers. Default: none, plain TCP.
    #[cfg(feature = "tls")]
    pub tls: Option<tls::ServerTls>,
    /// Answer this application heartbeat (a text message browsers can
    /// send, since they cannot ping) without passing it to the handler.
    /// Default: none.
    pub heartbeat: Option<Heartbeat>,
    /// Keep a bounded history per topic and give every published message
    /// an id, so that subscribers can resume after a reconnect
    /// ([`Peer::subscribe_with_ids`]). Default: none (no ids, and a publish
    /// takes no per-topic lock). With `redis`, the ids come from Redis,
    /// so that they are the same on every instance and a client resumes
    /// on any of them (see `PUBLISH_WITH_ID`, feature `redis`, and the
    /// README, "Resume on any instance").
    pub history: Option<HistoryLimits>,
    /// Share topics with other instances through Redis (feature `redis`):
    /// see [`RedisConfig`]. Default: none.
    #[cfg(feature = "redis")]
    pub redis: Option<RedisConfig>,
}

impl ServerConfig {
    /// Open files a server with this configuration may need: one per
    /// connection up to [`max_connections`](Self::max_connections), and a
    /// few per worker and for the process. Past the process' limit,
    /// accepting fails and new clients wait unanswered: see
    /// [`raise_open_file_limit`].
    pub fn open_files_needed(&self) -> u64 {
        (self.max_connections as u64).saturating_add(open_files::overhead(self.threads))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9001)),
            threads: thread::available_parallelism().map_or(1, |n| n.get()),
            max_connections: 10_000,
            connection: Config::default(),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: None,
            ping_interval: Some(Duration::from_secs(25)),
            close_timeout: Duration::from_secs(5),
            send_timeout: Some(Duration::from_secs(60)),
            allowed_origins: Vec::new(),
            subprotocols: Vec::new(),
            server_name: concat!("rfc6455/", env!("CARGO_PKG_VERSION")).to_owned(),
            read_budget: 256 << 10,
            high_water: 1 << 20,
            low_water: 256 << 10,
            direct_write_min: 4 << 10,
            topics: TopicLimits::default(),
            slow_subscriber_limit: 1 << 20,
            slow_subscriber: SlowSubscriber::Drop,
            max_inbox_bytes: 64 << 20,
            max_body: 1 << 20,
            #[cfg(feature = "deflate")]
            deflate: Some(crate::deflate::DeflateConfig::default()),
            #[cfg(feature = "tls")]
            tls: None,
            heartbeat: None,
            history: None,
            #[cfg(feature = "redis")]
            redis: None,
        }
    }
}

impl ServerConfig {
    /// Whether connections start with a TLS handshake.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return true;
        }
        false
    }

    /// The transport for an accepted socket.
    fn transport(&self, socket: mio::net::TcpStream) -> io::Result<transport::Transport> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return Ok(transport::Transport::Tls(Box::new(tls.accept(socket)?)));
        }
        Ok(transport::Transport::Plain(socket))
    }
}

/// Identifies a connection within its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId {
    /// The worker's index.
    pub worker: usize,
    /// The connection's slot in the worker, reused after it closes.
    pub slot: usize,
}

/// A message or control event handed to a [`Handler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
    /// A ping (already answered when auto-pong is on).
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
}

/// The application logic. One handler value lives in each worker thread
/// (made by the factory given to [`Server::run`]), so it needs no locks;
/// what the workers share (topics, publishing) goes through [`Context`].
///
/// Every callback can publish and set timers through its [`Context`]; the
/// ones given a [`Peer`] can also send to, close and subscribe that
/// connection.
pub trait Handler {
    /// The worker starts: set timers here. Called once per worker, before
    /// any connection.
    fn on_start(&mut self, _ctx: &mut Context<'_>) {}

    /// Decides whether to accept an upgrade request: return `Ok(())` to
    /// accept, or a rejection response. Origin and subprotocol policy from
    /// the [`ServerConfig`] have already been applied. Default: accept.
    fn on_upgrade(
        &mut self,
        _ctx: &mut Context<'_>,
        _conn: ConnId,
        _peer_addr: SocketAddr,
        _request: &UpgradeRequest<'_>,
    ) -> Result<(), Response> {
        Ok(())
    }

    /// A plain request's head is in and announces a body of `body_len`
    /// bytes (within [`ServerConfig::max_body`]), not read yet (beyond
    /// what came in the head's packets): `request.body()` is empty. Return a response to answer now,
    /// leaving the body unread (the connection closes after the answer, as
    /// after every response), or `None` to read the body and then answer
    /// with [`on_http`](Self::on_http). Not called for a request without a
    /// body.
    ///
    /// Refusing here what [`on_http`](Self::on_http) would refuse anyway
    /// (no token, an unknown route) keeps a peer from making the server
    /// hold up to `max_body` bytes on each of its connections before the
    /// refusal; a client that sent `Expect: 100-continue` gets the answer
    /// instead of the 100. Default: `None`.
    fn on_http_head(
        &mut self,
        _ctx: &mut Context<'_>,
        _request: &HttpRequest<'_>,
        _body_len: usize,
    ) -> Option<Response> {
        None
    }

    /// Answers a plain HTTP request (no upgrade), body included. Default:
    /// 426 Upgrade Required.
    fn on_http(&mut self, _ctx: &mut Context<'_>, _request: &HttpRequest<'_>) -> Response {
        Response::upgrade_required()
    }

    /// A connection completed its opening handshake (the 101 is queued):
    /// subscribe it from its URL, send it a greeting.
    fn on_open(&mut self, _peer: &mut Peer<'_>, _request: &UpgradeRequest<'_>) {}

    /// A message or control frame arrived.
    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message<'_>);

    /// A timer set with [`Context::set_timer`] or [`Context::set_interval`]
    /// fired.
    fn on_timer(&mut self, _ctx: &mut Context<'_>, _token: u64) {}

    /// A connection ended; its subscriptions are already gone. `code` is
    /// the peer's close code, 1006 if the transport ended without one, or
    /// the code this side failed it with.
    fn on_close(&mut self, _ctx: &mut Context<'_>, _conn: ConnId, _code: CloseCode) {}
}

/// The echo handler: every text and binary message goes back unchanged.
/// Plain `GET /` gets the built-in page ([`app::PAGE`]). The binary runs
/// [`app::App`], which echoes too and adds rooms and publishing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl Handler for Echo {
    fn on_http_head(
        &mut self,
        ctx: &mut Context<'_>,
        request: &HttpRequest<'_>,
        _body_len: usize,
    ) -> Option<Response> {
        // No route here reads a body: answered without it.
        Some(self.on_http(ctx, request))
    }

    fn on_http(&mut self, _ctx: &mut Context<'_>, request: &HttpRequest<'_>) -> Response {
        if request.method() != "GET" && request.method() != "HEAD" {
            return Response::new(405, "only GET and HEAD are served here\n")
                .header("Allow", "GET, HEAD");
        }
        match request.path() {
            "/" | "/index.html" => Response::html(app::PAGE),
            "/rfc6455.js" => app::client_js(),
            "/favicon.ico" => Response::not_found(),
            _ => Response::upgrade_required(),
        }
    }

    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message<'_>) {
        let sent = match message {
            Message::Text(text) => peer.send(MessageKind::Text, text.as_bytes()),
            Message::Binary(data) => peer.send(MessageKind::Binary, data),
            Message::Ping(_) | Message::Pong(_) => Ok(()),
        };
        if sent.is_err() {
            // Only reachable if the output bound is below the message size.
            let _ = peer.close(CloseCode::TOO_BIG, "echo does not fit the output buffer");
        }
    }
}

/// Controls a running server from any thread: publish to its topics, read
/// its counters, stop it.
#[derive(Clone)]
pub struct ServerHandle {
    hub: Arc<hub::Hub>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// Starts a graceful shutdown: stop accepting, send close 1001 to every
    /// open connection, wait for the replies up to the close timeout.
    pub fn shutdown(&self) {
        self.hub
            .shutdown
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.hub.wake_all();
    }

    /// Publishes a message to every subscriber of `topic`, on every worker,
    /// from any thread (an application thread, a broker). Encoded once.
    /// Returns the subscribers it was handed to (a snapshot: a subscriber
    /// may leave before it is delivered).
    ///
    /// Messages published from one thread reach each subscriber in the
    /// order they were published. The caller is never blocked by slow
    /// subscribers; see [`ServerConfig::slow_subscriber`] and
    /// [`ServerConfig::max_inbox_bytes`]. With a relay to other instances,
    /// it goes through Redis like any other publish (see
    /// [`Context::publish`]).
    pub fn publish(&self, topic: &str, kind: MessageKind, payload: &[u8]) -> usize {
        self.publish_frame(topic, &SharedFrame::new(kind, payload))
    }

    /// Publishes a frame encoded beforehand (see [`publish`](Self::publish)).
    pub fn publish_frame(&self, topic: &str, frame: &SharedFrame) -> usize {
        self.hub
            .published
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(reached) = self.hub.relay_publish(topic, frame, None, None) {
            return reached;
        }
        if self.hub.relay().is_some() {
            // The relay is away: ids come from Redis only.
            return self.hub.route_unstamped(topic, frame, None);
        }
        match &self.hub.history {
            Some(history) => {
                let now = std::time::Instant::now();
                self.hub.publish_stamped(history, topic, frame, None, now)
            }
            None => self.hub.route(topic, frame, None, None),
        }
    }

    /// Subscribers of `topic` over all workers, a snapshot.
    pub fn subscribers(&self, topic: &str) -> usize {
        self.hub.subscribers(topic)
    }

    /// How many topics have subscribers, and the `limit` with the most
    /// (see [`Context::topic_counts`]).
    pub fn topic_counts(&self, limit: usize) -> TopicCounts {
        self.hub.topic_counts(limit)
    }

    /// Publishes a message whose id was assigned elsewhere: what a broker
    /// relaying between server instances calls for each message it
    /// receives, when the ids come from a shared counter (e.g. `INCR` in
    /// Redis) and the epoch from shared state. The message is kept in the
    /// topic's history under that id and delivered as a local publish
    /// would be. `None` if the server keeps no history or the id is not
    /// newer than the topic's newest (a duplicate); else the subscribers
    /// reached. See [`HistoryLimits`] for epochs and gaps.
    pub fn publish_with_id(
        &self,
        topic: &str,
        epoch: &str,
        id: u64,
        kind: MessageKind,
        payload: &[u8],
    ) -> Option<usize> {
        let history = self.hub.history.as_ref()?;
        let frame = SharedFrame::new(kind, payload);
        let now = std::time::Instant::now();
        self.hub
            .ingest(history, topic, epoch, id, &frame, None, now)
    }

    /// The server's counters, summed over the workers.
    pub fn stats(&self) -> Stats {
        self.hub.stats()
    }
}

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    listeners: Vec<std::net::TcpListener>,
    local_addr: SocketAddr,
    handle: ServerHandle,
}

impl Server {
    /// Binds one listening socket per worker (with `SO_REUSEPORT`). Fails
    /// with [`io::ErrorKind::AddrInUse`] when anything, another server of
    /// this kind included, already listens on the address.
    pub fn bind(mut config: ServerConfig) -> io::Result<Server> {
        config.threads = config.threads.max(1);
        // A budget of 0 reads nothing, and the connection is queued to be
        // read again at once: the worker would spin without reading.
        config.read_budget = config.read_budget.max(1);
        // `Duration::MAX` reads as "never"; the workers add these to
        // `Instant`s, so anything past a century is a century.
        let cap = |d: &mut Duration| *d = (*d).min(crate::deadline::CENTURY);
        cap(&mut config.handshake_timeout);
        cap(&mut config.close_timeout);
        for d in [
            &mut config.idle_timeout,
            &mut config.ping_interval,
            &mut config.send_timeout,
        ]
        .into_iter()
        .flatten()
        {
            cap(d);
        }
        worker::check_free(config.listen)?;
        let first = worker::listen(config.listen)?;
        let local_addr = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..config.threads {
            // Same port (resolved if it was 0), so the kernel balances.
            listeners.push(worker::listen(local_addr)?);
        }
        let relay = broker_for(&config)?;
        let hub = Arc::new(hub::Hub::new(
            config.threads,
            config.max_inbox_bytes,
            config.history,
            relay,
        ));
        Ok(Server {
            config,
            listeners,
            local_addr,
            handle: ServerHandle { hub },
        })
    }

    /// The address the server listens on (with the real port if 0 was
    /// asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to publish to the server and stop it, from any thread.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Runs the workers until shutdown, each with a handler made by
    /// `make_handler`. Returns once every worker has finished. A worker
    /// that stops on its own (its handler panicked, its poll failed) shuts
    /// the others down gracefully, and the error is returned.
    pub fn run<H, F>(self, make_handler: F) -> io::Result<()>
    where
        H: Handler + 'static,
        F: Fn() -> H + Send + Sync + 'static,
    {
        let make_handler = Arc::new(make_handler);
        let max_connections = self.config.max_connections;
        let config = Arc::new(self.config);
        let handle = self.handle;
        let hub = Arc::clone(&handle.hub);
        let mut workers = Vec::new();
        for (index, listener) in self.listeners.into_iter().enumerate() {
            workers.push(worker::Worker::new(
                index,
                listener,
                Arc::clone(&config),
                max_connections,
                Arc::clone(&hub),
            )?);
        }
        hub.set_wakers(workers.iter().map(worker::Worker::waker).collect());
        let relay_threads = match hub.relay() {
            Some(relay) => Arc::clone(relay).start(Arc::clone(&hub))?,
            None => Vec::new(),
        };
        let mut threads = Vec::new();
        for mut w in workers {
            let make_handler = Arc::clone(&make_handler);
            let stop = StopAllOnExit(handle.clone());
            threads.push(
                thread::Builder::new()
                    .name(format!("ws-worker-{}", w.index()))
                    .spawn(move || {
                        let _stop = stop;
                        w.run(make_handler())
                    })?,
            );
        }
        // A shutdown asked for before the wakers existed must still land.
        if hub.shutdown.load(std::sync::atomic::Ordering::SeqCst) {
            hub.wake_all();
        }
        let mut result = Ok(());
        for t in threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("worker thread panicked")),
            }
        }
        if let Some(relay) = hub.relay() {
            relay.shutdown();
        }
        for t in relay_threads {
            if t.join().is_err() {
                result = Err(io::Error::other("relay thread panicked"));
            }
        }
        result
    }
}

/// Shuts the whole server down when a worker ends, however it ends: a
/// worker whose handler panicked (or whose poll failed) would otherwise go
/// unnoticed until shutdown, its connections dropped without a close and
/// its share of new ones still sent to a dead listener. The others close
/// theirs with 1001 and [`Server::run`] returns the error, so a
/// supervisor can restart the process.
struct StopAllOnExit(ServerHandle);

impl Drop for StopAllOnExit {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// The relay to other instances the configuration asks for.
#[allow(clippy::unnecessary_wraps)]
fn broker_for(_config: &ServerConfig) -> io::Result<Option<Arc<dyn broker::Relay>>> {
    #[cfg(feature = "redis")]
    if let Some(redis) = &_config.redis {
        let mut relay = broker::redis::RedisRelay::new(redis.clone())?;
        relay.set_ids(_config.history.is_some(), _config.topics.max_name_len);
        return Ok(Some(Arc::new(relay)));
    }
    Ok(None)
}
