//! The connection driver the WebSocket modes share: a mio `Poll` over one
//! thread's share of the connections, the connect and opening handshake (a
//! bounded number at a time, offering permessage-deflate with
//! `--deflate`), and the transport steps of an open connection (read,
//! flush, writable interest, close, failure). The raw TCP mode (`raw.rs`)
//! has its own connections but shares the schedule, shares and errors.
//!
//! The loop follows mio's model: edge-triggered readiness, read until
//! `WouldBlock`, writable interest only while output is queued. What a mode
//! keeps per connection lives in [`Conn::state`]; the modes' loops
//! (`echo.rs`, `churn.rs`, `fanout.rs`) call the steps here. A connection's
//! transport is a [`Stream`]: the socket, or TLS over it for `wss://`.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rfc6455::connection::{Config, Connection};
use rfc6455::frame::Status;
use rfc6455::handshake::{ClientHandshake, ClientRequest};
use rfc6455::{CloseCode, CloseReason};

use crate::rng::SplitMix64;
use crate::stream::Stream;

/// Time allowed for connecting plus the opening handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Errors described on stderr per thread; the rest are only counted.
const MAX_REPORTED: u64 = 10;

/// Where and how every connection of the run connects.
pub struct Target {
    pub addr: SocketAddr,
    pub url: String,
    pub config: Config,
    /// Offer permessage-deflate; a server that declines fails the
    /// connection.
    pub deflate: bool,
    /// `wss://`: TLS with this configuration and server name.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::stream::TlsTarget>,
}

/// Common times for all threads.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Results count from here.
    pub measure_from: Instant,
    /// Nothing is sent from here on; results count up to here.
    pub measure_to: Instant,
}

impl Schedule {
    /// When a load loop must next wake up by itself: the end of the drain
    /// once it has begun (`None` when that has passed), else the next
    /// boundary of the window.
    pub fn wake_at(&self, now: Instant, drain_deadline: Option<Instant>) -> Option<Instant> {
        match drain_deadline {
            Some(deadline) if now >= deadline => None,
            Some(deadline) => Some(deadline),
            None if now < self.measure_from => Some(self.measure_from),
            None => Some(self.measure_to),
        }
    }
}

pub enum Control {
    Go(Schedule),
    Abort,
}

/// The thread's share: connections `first..first + count` of the run.
pub struct Share {
    pub first: usize,
    pub count: usize,
    /// Most handshakes in flight in this thread.
    pub handshakes: usize,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// TCP connect in progress.
    Connecting,
    /// Writing the request, reading the response.
    Handshaking,
    /// Traffic (or waiting for it to start).
    Open,
    /// Our close frame is queued; waiting for the server's.
    Closing,
    /// Closed or failed; the socket is gone.
    Done,
}

struct Handshake {
    request: Vec<u8>,
    written: usize,
    response: Vec<u8>,
    state: ClientHandshake,
}

/// One connection: its transport and WebSocket state, and what the mode
/// keeps about it (`state`).
pub struct Conn<S> {
    pub socket: Option<Stream>,
    pub phase: Phase,
    handshake: Option<Box<Handshake>>,
    pub ws: Option<Box<Connection>>,
    /// The connection's number in the whole run.
    pub number: usize,
    write_interest: bool,
    /// When its connect started.
    pub started: Instant,
    pub state: S,
}

/// Counts errors and describes the first few.
pub struct Errors {
    pub count: u64,
}

impl Errors {
    pub fn record(&mut self, number: usize, message: &str) {
        self.count += 1;
        if self.count <= MAX_REPORTED {
            eprintln!("wsload: connection {number}: {message}");
        } else if self.count == MAX_REPORTED + 1 {
            eprintln!("wsload: more errors in this thread, counted but not shown");
        }
    }
}

/// What the transport steps update besides the connection itself.
pub struct Net<'a> {
    pub poll: &'a mut Poll,
    pub errors: &'a mut Errors,
    /// Connections not yet done.
    pub live: &'a mut usize,
}

/// One thread's connections and their `Poll`.
pub struct Pool<S> {
    pub poll: Poll,
    pub conns: Vec<Conn<S>>,
    pub errors: Errors,
    /// Connections not yet done.
    pub live: usize,
    pub rng: SplitMix64,
    pub share: Share,
}

impl<S> Pool<S> {
    pub fn new(share: Share) -> io::Result<Pool<S>> {
        Ok(Pool {
            poll: Poll::new()?,
            conns: Vec::with_capacity(share.count),
            errors: Errors { count: 0 },
            live: 0,
            rng: SplitMix64::new(share.seed),
            share,
        })
    }

    /// Splits the pool into the transport's shared state and the
    /// connections, so that one connection can be driven while the rest is
    /// borrowed.
    pub fn split(&mut self) -> (Net<'_>, &mut [Conn<S>]) {
        (
            Net {
                poll: &mut self.poll,
                errors: &mut self.errors,
                live: &mut self.live,
            },
            &mut self.conns,
        )
    }

    /// Opens the thread's connections, `state(number)` giving each its
    /// mode's state; false (with the error described) if any fails or
    /// another thread aborted.
    pub fn connect_all(
        &mut self,
        target: &Target,
        abort: &AtomicBool,
        mut state: impl FnMut(usize) -> S,
    ) -> bool {
        let mut events = Events::with_capacity(256);
        let (mut opened, mut up, mut in_flight) = (0, 0, 0);
        // Handshake deadlines are checked every 100 ms.
        let mut next_check = Instant::now();
        while up < self.share.count {
            if abort.load(Ordering::Relaxed) {
                return false;
            }
            while in_flight < self.share.handshakes && opened < self.share.count {
                let number = self.share.first + opened;
                if let Err(e) = self.open(target, opened, state(number)) {
                    self.errors.record(number, &format!("connect: {e}"));
                    return false;
                }
                opened += 1;
                in_flight += 1;
            }
            if let Err(e) = self
                .poll
                .poll(&mut events, Some(Duration::from_millis(100)))
            {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                self.errors
                    .record(self.share.first + up, &format!("poll: {e}"));
                return false;
            }
            for event in events.iter() {
                let i = event.token().0;
                match self.handshake_step(target, i) {
                    Ok(true) => {
                        up += 1;
                        in_flight -= 1;
                    }
                    Ok(false) => {}
                    Err(message) => {
                        self.errors.record(self.conns[i].number, &message);
                        return false;
                    }
                }
            }
            let now = Instant::now();
            if now < next_check {
                continue;
            }
            next_check = now + Duration::from_millis(100);
            for conn in &self.conns {
                let pending = matches!(conn.phase, Phase::Connecting | Phase::Handshaking);
                if pending && now >= conn.started + HANDSHAKE_TIMEOUT {
                    let message = format!("no handshake within {HANDSHAKE_TIMEOUT:?}");
                    self.errors.record(conn.number, &message);
                    return false;
                }
            }
        }
        true
    }

    /// Starts a non-blocking connect for connection `i` of this thread,
    /// in a new slot or in place of a done one.
    pub fn open(&mut self, target: &Target, i: usize, state: S) -> io::Result<()> {
        let mut socket = TcpStream::connect(target.addr)?;
        socket.set_nodelay(true)?;
        self.poll.registry().register(
            &mut socket,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let socket = Stream::new(socket, target)?;
        let mut key = [0u8; 16];
        self.rng.fill(&mut key);
        let mut request = Vec::new();
        let request_head = ClientRequest::new(&target.url, key)
            .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        #[cfg(feature = "deflate")]
        let request_head = request_head.deflate(
            // Level 1 at every size: the same load for every server, at
            // the least cost to wsload's own core.
            target.deflate.then(|| rfc6455::deflate::DeflateConfig {
                level: rfc6455::deflate::Level::fixed(1),
                ..rfc6455::deflate::DeflateConfig::default()
            }),
        );
        let handshake = request_head
            .write(&mut request)
            .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        let conn = Conn {
            socket: Some(socket),
            phase: Phase::Connecting,
            handshake: Some(Box::new(Handshake {
                request,
                written: 0,
                response: Vec::with_capacity(256),
                state: handshake,
            })),
            ws: None,
            number: self.share.first + i,
            write_interest: true,
            started: Instant::now(),
            state,
        };
        match self.conns.get_mut(i) {
            Some(slot) => {
                debug_assert_eq!(slot.phase, Phase::Done);
                *slot = conn;
            }
            None => self.conns.push(conn),
        }
        self.live += 1;
        Ok(())
    }

    /// Advances connection `i`'s connect and handshake; true once open.
    pub fn handshake_step(&mut self, target: &Target, i: usize) -> Result<bool, String> {
        let conn = &mut self.conns[i];
        let Some(socket) = conn.socket.as_mut() else {
            return Ok(false);
        };
        if conn.phase == Phase::Connecting {
            let tcp = socket.tcp();
            if let Some(e) = tcp.take_error().map_err(|e| format!("connect: {e}"))? {
                return Err(format!("connect: {e}"));
            }
            match tcp.peer_addr() {
                Ok(_) => conn.phase = Phase::Handshaking,
                Err(e) if e.kind() == ErrorKind::NotConnected => return Ok(false),
                Err(e) => return Err(format!("connect: {e}")),
            }
        }
        if conn.phase != Phase::Handshaking {
            return Ok(false);
        }
        let Some(hs) = conn.handshake.as_mut() else {
            return Ok(false);
        };
        while hs.written < hs.request.len() {
            match socket.write(&hs.request[hs.written..]) {
                Ok(0) => return Err("handshake: the connection closed".into()),
                Ok(n) => hs.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("handshake: {e}")),
            }
        }
        // Over TLS, records may wait for the socket (the ClientHello, the
        // client's Finished): keep writable interest until they are out.
        socket
            .flush_pending()
            .map_err(|e| format!("handshake: {e}"))?;
        let want_write = socket.pending() > 0;
        if conn.write_interest != want_write {
            self.poll
                .registry()
                .reregister(socket.tcp_mut(), Token(i), interest(want_write))
                .map_err(|e| format!("reregister: {e}"))?;
            conn.write_interest = want_write;
        }
        let mut chunk = [0u8; 2048];
        loop {
            let n = match socket.read(&mut chunk) {
                Ok(0) => {
                    return Err("handshake: the server closed the connection".into());
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("handshake: {e}")),
            };
            hs.response.extend_from_slice(&chunk[..n]);
            let (consumed, deflate) = match hs.state.parse(&hs.response) {
                Ok(Status::Incomplete(_)) => continue,
                #[cfg(feature = "deflate")]
                Ok(Status::Complete(accepted)) => {
                    (accepted.consumed(), accepted.deflate().copied())
                }
                #[cfg(not(feature = "deflate"))]
                Ok(Status::Complete(accepted)) => (accepted.consumed(), None::<()>),
                Err(e) => return Err(format!("handshake: {e}")),
            };
            if target.deflate && deflate.is_none() {
                return Err("handshake: the server declined permessage-deflate".into());
            }
            let mut key_rng = SplitMix64::new(self.rng.next_u64());
            let mut ws = Connection::client(target.config, Box::new(move || key_rng.mask_key()));
            #[cfg(feature = "deflate")]
            if let Some(negotiated) = &deflate {
                ws = ws.with_deflate(negotiated);
            }
            // Frames the server sent right behind its response.
            ws.receive(&hs.response[consumed..], Duration::ZERO);
            // The read buffer is made now rather than at the first read,
            // inside the measured window.
            ws.read_buf();
            conn.ws = Some(Box::new(ws));
            conn.handshake = None;
            conn.phase = Phase::Open;
            return Ok(true);
        }
    }
}

/// Readable always; writable too if `write`.
fn interest(write: bool) -> Interest {
    if write {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    }
}

/// Registers for writable only while output is queued (in the connection,
/// or TLS records below it).
pub fn update_interest<S>(conn: &mut Conn<S>, i: usize, net: &mut Net<'_>) {
    let (Some(socket), Some(ws)) = (conn.socket.as_mut(), conn.ws.as_ref()) else {
        return;
    };
    let want = ws.has_output() || socket.pending() > 0;
    if want == conn.write_interest {
        return;
    }
    let registry = net.poll.registry();
    match registry.reregister(socket.tcp_mut(), Token(i), interest(want)) {
        Ok(()) => conn.write_interest = want,
        Err(e) => fail(conn, net, &format!("reregister: {e}")),
    }
}

/// What one read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Got {
    /// The socket would block (or the connection is gone).
    Nothing,
    /// Fewer bytes (this many) than there was room for: the socket is
    /// drained for now.
    Short(usize),
    /// The room is full (this many bytes): more may wait.
    Full(usize),
}

impl Got {
    /// Bytes the read brought.
    pub fn bytes(self) -> usize {
        match self {
            Got::Nothing => 0,
            Got::Short(n) | Got::Full(n) => n,
        }
    }
}

/// One read into the connection's buffer, stamped `now`.
pub fn read_some<S>(conn: &mut Conn<S>, now: Duration) -> Result<Got, String> {
    loop {
        let (Some(socket), Some(ws)) = (conn.socket.as_mut(), conn.ws.as_mut()) else {
            return Ok(Got::Nothing);
        };
        let room = ws.read_buf();
        let n = match socket.read(room) {
            Ok(0) => {
                return Err(match conn.phase {
                    Phase::Closing => "end of stream before the server's close frame".into(),
                    _ => "the server ended the stream (no close frame)".into(),
                });
            }
            Ok(n) if n < room.len() => {
                ws.commit_read(n, now);
                return Ok(Got::Short(n));
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Got::Nothing),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read: {e}")),
        };
        ws.commit_read(n, now);
        return Ok(Got::Full(n));
    }
}

/// Queues a close frame (1000) and starts writing it.
pub fn start_close<S>(conn: &mut Conn<S>) -> Result<(), String> {
    if let Some(ws) = conn.ws.as_mut() {
        ws.close(CloseCode::NORMAL, CloseReason::EMPTY)
            .map_err(|e| format!("close: {e}"))?;
        conn.phase = Phase::Closing;
        flush(conn)?;
    }
    Ok(())
}

/// Writes queued output until done or the socket would block.
pub fn flush<S>(conn: &mut Conn<S>) -> Result<(), String> {
    let (Some(socket), Some(ws)) = (conn.socket.as_mut(), conn.ws.as_mut()) else {
        return Ok(());
    };
    socket.flush_pending().map_err(|e| format!("write: {e}"))?;
    loop {
        let out = ws.output();
        if out.is_empty() {
            return Ok(());
        }
        match socket.write(out) {
            Ok(0) => return Err("write: the connection closed".into()),
            Ok(n) => ws.consume_output(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("write: {e}")),
        }
    }
}

/// Records the error and drops the connection.
pub fn fail<S>(conn: &mut Conn<S>, net: &mut Net<'_>, message: &str) {
    if conn.phase != Phase::Done {
        net.errors.record(conn.number, message);
        close_socket(conn, net);
    }
}

/// Drops the socket (closing it deregisters it) and marks the connection
/// done.
pub fn close_socket<S>(conn: &mut Conn<S>, net: &mut Net<'_>) {
    if conn.phase != Phase::Done {
        *net.live -= 1;
    }
    conn.socket = None;
    conn.ws = None;
    conn.handshake = None;
    conn.phase = Phase::Done;
}

/// Nanoseconds from `epoch` to `now`.
pub fn nanos_since(epoch: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}
