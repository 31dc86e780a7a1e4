//! One load thread: a mio `Poll` over its share of the connections.
//!
//! The thread connects its connections (a bounded number of handshakes at
//! a time), reports that it is ready, waits for the common schedule, then
//! runs the echo loop until the window ends, lets the echoes in flight come
//! back and closes every connection with a close handshake.
//!
//! The loop follows mio's model: edge-triggered readiness, read until
//! `WouldBlock`, writable interest only while output is queued. Per
//! message it does no allocation: the payload is a window into bytes built
//! once, the send time goes into a ring fixed at connection setup, the
//! latency into a fixed histogram, and the connection's buffers are reused.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rfc6455::connection::{Config, Connection, Event, MessageKind};
use rfc6455::frame::Status;
use rfc6455::handshake::{ClientHandshake, ClientRequest};
use rfc6455::{CloseCode, CloseReason};

use crate::histogram::Histogram;
use crate::payload::{json_records, Payload};
use crate::rng::SplitMix64;
use crate::stream::Stream;

/// Distinct message windows into the payload bytes: consecutive messages
/// of a connection differ, so a lost, repeated or reordered echo shows up
/// as a mismatch.
pub const WINDOWS: usize = 251;
/// Time allowed for connecting plus the opening handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After the window: time for the echoes in flight and the close handshake.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Errors described on stderr per thread; the rest are only counted.
const MAX_REPORTED: u64 = 10;

/// What every thread is asked to do.
pub struct Plan {
    pub addr: SocketAddr,
    pub url: String,
    pub size: usize,
    pub depth: usize,
    pub kind: MessageKind,
    pub payload: Payload,
    /// Offer permessage-deflate; a server that declines fails the run.
    pub deflate: bool,
    /// Hold the connections without sending.
    pub idle: bool,
    /// Bare TCP, no handshake and no framing (`tcp://` URLs): see `raw`.
    pub raw: bool,
    /// Open, close and open again (handshakes per second) instead of
    /// echoing.
    pub churn: bool,
    pub config: Config,
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

/// A thread's results.
pub struct Report {
    pub msgs: u64,
    pub hist: Histogram,
    pub errors: u64,
    /// CPU time the thread used in the window, where /proc tells.
    pub cpu: Option<Duration>,
    /// Bytes read from the sockets in the window: the server's frames as
    /// sent (compressed with --deflate), without TCP/IP headers.
    pub wire_in: u64,
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
enum Phase {
    /// TCP connect in progress.
    Connecting,
    /// Writing the request, reading the response.
    Handshaking,
    /// Echo traffic (or waiting for it to start).
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

struct Conn {
    socket: Option<Stream>,
    phase: Phase,
    handshake: Option<Box<Handshake>>,
    ws: Option<Box<Connection>>,
    /// The connection's number in the whole run: picks its payload windows.
    number: usize,
    sent: u64,
    received: u64,
    /// Send times (ns since the thread's epoch) of the messages in flight,
    /// indexed by sequence number modulo the depth.
    stamps: Box<[u64]>,
    write_interest: bool,
    started: Instant,
}

impl Conn {
    fn in_flight(&self) -> u64 {
        self.sent - self.received
    }
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

/// The thread-wide state a connection's events update, apart from the
/// connections themselves.
struct Load<'a> {
    plan: &'a Plan,
    payload: &'a [u8],
    epoch: Instant,
    schedule: Schedule,
    poll: &'a mut Poll,
    hist: &'a mut Histogram,
    errors: &'a mut Errors,
    /// Connections not yet done.
    live: &'a mut usize,
    cpu: &'a mut Option<Duration>,
    wire_in: &'a mut u64,
}

pub struct Worker {
    plan: std::sync::Arc<Plan>,
    share: Share,
    poll: Poll,
    conns: Vec<Conn>,
    payload: Vec<u8>,
    rng: SplitMix64,
    epoch: Instant,
    hist: Histogram,
    errors: Errors,
    /// Connections not yet done.
    live: usize,
    cpu: Option<Duration>,
    wire_in: u64,
}

impl Worker {
    pub fn new(plan: std::sync::Arc<Plan>, share: Share) -> io::Result<Worker> {
        let mut rng = SplitMix64::new(share.seed);
        let mut payload = vec![0u8; plan.size + WINDOWS];
        rng.fill(&mut payload);
        if plan.payload == Payload::Json {
            payload = json_records(plan.size + WINDOWS);
        } else if plan.kind == MessageKind::Text {
            // Printable ASCII: valid UTF-8 wherever a window starts or ends.
            for b in &mut payload {
                *b = b' ' + *b % 95;
            }
        }
        Ok(Worker {
            plan,
            poll: Poll::new()?,
            conns: Vec::with_capacity(share.count),
            payload,
            rng,
            epoch: Instant::now(),
            hist: Histogram::new(),
            errors: Errors { count: 0 },
            live: 0,
            cpu: None,
            wire_in: 0,
            share,
        })
    }

    /// Connects, reports readiness, waits for the schedule, runs the load.
    pub fn run(
        mut self,
        abort: &AtomicBool,
        ready: Sender<bool>,
        control: Receiver<Control>,
    ) -> Report {
        let connected = self.connect_all(abort);
        if !connected {
            abort.store(true, Ordering::SeqCst);
        }
        // The main thread may have stopped listening after another
        // thread's failure; either way the control channel decides.
        let _ = ready.send(connected);
        match control.recv() {
            Ok(Control::Go(schedule)) if connected && self.plan.churn => self.churn_loop(schedule),
            Ok(Control::Go(schedule)) if connected => self.echo_loop(schedule),
            _ => {}
        }
        Report {
            msgs: self.hist.count(),
            hist: self.hist,
            errors: self.errors.count,
            cpu: self.cpu,
            wire_in: self.wire_in,
        }
    }

    /// Opens the thread's connections; false (with the error described) if
    /// any fails or another thread aborted.
    fn connect_all(&mut self, abort: &AtomicBool) -> bool {
        if self.plan.churn {
            return true; // connections open and close inside the window
        }
        let mut events = Events::with_capacity(256);
        let (mut opened, mut up, mut in_flight) = (0, 0, 0);
        // Handshake deadlines are checked every 100 ms.
        let mut next_check = Instant::now();
        while up < self.share.count {
            if abort.load(Ordering::Relaxed) {
                return false;
            }
            while in_flight < self.share.handshakes && opened < self.share.count {
                if let Err(e) = self.open(opened) {
                    self.errors
                        .record(self.share.first + opened, &format!("connect: {e}"));
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
                match self.handshake_step(i) {
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

    /// Starts a non-blocking connect for connection `i` of this thread.
    fn open(&mut self, i: usize) -> io::Result<()> {
        let conn = self.new_conn(i)?;
        if i < self.conns.len() {
            self.conns[i] = conn;
        } else {
            self.conns.push(conn);
        }
        self.live += 1;
        Ok(())
    }

    /// A connection whose non-blocking connect has started.
    fn new_conn(&mut self, i: usize) -> io::Result<Conn> {
        let mut socket = TcpStream::connect(self.plan.addr)?;
        socket.set_nodelay(true)?;
        self.poll.registry().register(
            &mut socket,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let socket = Stream::new(socket, &self.plan)?;
        let mut key = [0u8; 16];
        self.rng.fill(&mut key);
        let mut request = Vec::new();
        let request_head = ClientRequest::new(&self.plan.url, key)
            .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        #[cfg(feature = "deflate")]
        let request_head = request_head.deflate(
            self.plan
                .deflate
                .then(rfc6455::deflate::DeflateConfig::default),
        );
        let state = request_head
            .write(&mut request)
            .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        Ok(Conn {
            socket: Some(socket),
            phase: Phase::Connecting,
            handshake: Some(Box::new(Handshake {
                request,
                written: 0,
                response: Vec::with_capacity(256),
                state,
            })),
            ws: None,
            number: self.share.first + i,
            sent: 0,
            received: 0,
            stamps: vec![0; self.plan.depth].into_boxed_slice(),
            write_interest: true,
            started: Instant::now(),
        })
    }

    /// Advances connection `i`'s connect and handshake; true once open.
    fn handshake_step(&mut self, i: usize) -> Result<bool, String> {
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
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            self.poll
                .registry()
                .reregister(socket.tcp_mut(), Token(i), interest)
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
            if self.plan.deflate && deflate.is_none() {
                return Err("handshake: the server declined permessage-deflate".into());
            }
            let mut key_rng = SplitMix64::new(self.rng.next_u64());
            let mut ws = Connection::client(self.plan.config, Box::new(move || key_rng.mask_key()));
            #[cfg(feature = "deflate")]
            if let Some(negotiated) = &deflate {
                ws = ws.with_deflate(negotiated);
            }
            // Frames the server sent right behind its response.
            ws.receive(&hs.response[consumed..], Duration::ZERO);
            // The read buffer is made now rather than at the first read,
            // inside the measured window.
            ws.read_buf();
            if self.plan.idle {
                socket.release_idle_memory();
            }
            conn.ws = Some(Box::new(ws));
            conn.handshake = None;
            conn.phase = Phase::Open;
            return Ok(true);
        }
    }

    /// The echo loop, from the start signal to the last close.
    fn echo_loop(&mut self, schedule: Schedule) {
        let mut events = Events::with_capacity(1024);
        let (mut load, conns) = self.split(schedule);
        let depth = if load.plan.idle { 0 } else { load.plan.depth };
        for (i, conn) in conns.iter_mut().enumerate() {
            let now = Instant::now();
            let result = (0..depth).try_for_each(|_| send_next(conn, &mut load, now));
            if let Err(message) = result.and_then(|()| flush(conn)) {
                fail(conn, &mut load, &message);
            }
            update_interest(conn, i, &mut load);
        }
        let mut drain_deadline = None;
        // The thread's CPU time when the window opened.
        let mut cpu_from = None;
        loop {
            let now = Instant::now();
            if cpu_from.is_none() && now >= schedule.measure_from {
                cpu_from = Some(thread_cpu());
            }
            if drain_deadline.is_none() && now >= schedule.measure_to {
                drain_deadline = Some(now + DRAIN_TIMEOUT);
                if let Some(Some(from)) = cpu_from {
                    *load.cpu = thread_cpu().map(|to| to.saturating_sub(from));
                }
                // A connection whose echoes are all back closes now; the
                // others close when their last echo arrives.
                for (i, conn) in conns.iter_mut().enumerate() {
                    if conn.phase == Phase::Open && conn.in_flight() == 0 {
                        if let Err(message) = start_close(conn) {
                            fail(conn, &mut load, &message);
                        }
                        update_interest(conn, i, &mut load);
                    }
                }
            }
            if *load.live == 0 {
                break; // every connection failed: nothing left to measure
            }
            let Some(until) = schedule.wake_at(now, drain_deadline) else {
                break;
            };
            if let Err(e) = load.poll.poll(&mut events, Some(until - now)) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("wsload: poll: {e}");
                load.errors.count += 1;
                break;
            }
            for event in events.iter() {
                let i = event.token().0;
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                drive(&mut conns[i], i, &mut load, readable);
            }
        }
        for conn in conns.iter_mut() {
            let message = match conn.phase {
                Phase::Done => continue,
                Phase::Closing if conn.in_flight() == 0 => {
                    "the server did not answer the close frame".to_owned()
                }
                _ => format!(
                    "{} echo(es) missing {DRAIN_TIMEOUT:?} after the end",
                    conn.in_flight()
                ),
            };
            fail(conn, &mut load, &message);
        }
    }

    /// Handshakes per second: every connection opens (TCP, TLS for
    /// `wss://`, the upgrade), closes with a close handshake, and opens
    /// again, until the window ends. The histogram holds the time from
    /// connect to the 101 of each handshake that completed in the window.
    fn churn_loop(&mut self, schedule: Schedule) {
        let mut events = Events::with_capacity(1024);
        for i in 0..self.share.count {
            if let Err(e) = self.open(i) {
                self.errors
                    .record(self.share.first + i, &format!("connect: {e}"));
                return;
            }
        }
        let mut cpu_from = None;
        loop {
            let now = Instant::now();
            if cpu_from.is_none() && now >= schedule.measure_from {
                cpu_from = Some(thread_cpu());
            }
            if now >= schedule.measure_to {
                if let Some(Some(from)) = cpu_from {
                    self.cpu = thread_cpu().map(|to| to.saturating_sub(from));
                }
                break;
            }
            let wait = (schedule.measure_to - now).min(Duration::from_millis(100));
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("wsload: poll: {e}");
                self.errors.count += 1;
                break;
            }
            let now = Instant::now();
            for event in events.iter() {
                let i = event.token().0;
                let step = match self.conns[i].phase {
                    Phase::Connecting | Phase::Handshaking => match self.handshake_step(i) {
                        Ok(true) => {
                            let conn = &mut self.conns[i];
                            if now >= schedule.measure_from && now < schedule.measure_to {
                                self.hist.record(nanos_since(conn.started, now));
                            }
                            start_close(conn).and_then(|()| self.churn_interest(i))
                        }
                        Ok(false) => Ok(()),
                        Err(message) => Err(message),
                    },
                    Phase::Closing => self.churn_close_step(i),
                    Phase::Open | Phase::Done => Ok(()),
                };
                if let Err(message) = step {
                    let conn = &mut self.conns[i];
                    self.errors.record(conn.number, &message);
                    conn.socket = None;
                    conn.phase = Phase::Done;
                }
            }
            // Done connections open again; stuck ones count as errors.
            for i in 0..self.conns.len() {
                let conn = &mut self.conns[i];
                let stuck = conn.phase != Phase::Done
                    && now >= conn.started + HANDSHAKE_TIMEOUT + DRAIN_TIMEOUT;
                if stuck {
                    self.errors
                        .record(conn.number, "no handshake and close within 15 s");
                    conn.phase = Phase::Done;
                }
                if self.conns[i].phase == Phase::Done && now < schedule.measure_to {
                    self.live -= 1;
                    if let Err(e) = self.open(i) {
                        self.errors
                            .record(self.share.first + i, &format!("connect: {e}"));
                        return;
                    }
                }
            }
        }
    }

    /// Reads toward the server's close frame and end of stream; done (the
    /// socket dropped) once both came.
    fn churn_close_step(&mut self, i: usize) -> Result<(), String> {
        let conn = &mut self.conns[i];
        flush(conn)?;
        loop {
            let (Some(socket), Some(ws)) = (conn.socket.as_mut(), conn.ws.as_mut()) else {
                return Ok(());
            };
            let n = match socket.read(ws.read_buf()) {
                Ok(0) => {
                    ws.receive_eof();
                    if ws.peer_close().is_none() {
                        return Err("end of stream before the server's close frame".into());
                    }
                    conn.socket = None;
                    conn.ws = None;
                    conn.phase = Phase::Done;
                    return Ok(());
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return self.churn_interest(i),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("read: {e}")),
            };
            ws.commit_read(n, Duration::ZERO);
            while ws.next_event().map_err(|e| e.to_string())?.is_some() {}
        }
    }

    fn churn_interest(&mut self, i: usize) -> Result<(), String> {
        let conn = &mut self.conns[i];
        let (Some(socket), Some(ws)) = (conn.socket.as_mut(), conn.ws.as_ref()) else {
            return Ok(());
        };
        let want = ws.has_output() || socket.pending() > 0;
        if want == conn.write_interest {
            return Ok(());
        }
        let interest = if want {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        self.poll
            .registry()
            .reregister(socket.tcp_mut(), Token(i), interest)
            .map_err(|e| format!("reregister: {e}"))?;
        conn.write_interest = want;
        Ok(())
    }

    /// Splits the worker into the thread-wide load state and the
    /// connections, so that one connection can be driven while the rest is
    /// borrowed.
    fn split(&mut self, schedule: Schedule) -> (Load<'_>, &mut [Conn]) {
        (
            Load {
                plan: &self.plan,
                payload: &self.payload,
                epoch: self.epoch,
                schedule,
                poll: &mut self.poll,
                hist: &mut self.hist,
                errors: &mut self.errors,
                live: &mut self.live,
                cpu: &mut self.cpu,
                wire_in: &mut self.wire_in,
            },
            &mut self.conns,
        )
    }
}

/// Serves a readiness event of connection `i`: reads and checks everything
/// that arrived, queues the next messages, writes.
fn drive(conn: &mut Conn, i: usize, load: &mut Load<'_>, readable: bool) {
    if conn.phase == Phase::Done {
        return;
    }
    let now = Instant::now();
    let result = if readable {
        read_and_answer(conn, load, now)
    } else {
        Ok(())
    };
    if let Err(message) = result.and_then(|()| flush(conn)) {
        fail(conn, load, &message);
    }
    update_interest(conn, i, load);
}

/// Registers for writable only while output is queued.
fn update_interest(conn: &mut Conn, i: usize, load: &mut Load<'_>) {
    let (Some(socket), Some(ws)) = (conn.socket.as_mut(), conn.ws.as_ref()) else {
        return;
    };
    let want = ws.has_output() || socket.pending() > 0;
    if want == conn.write_interest {
        return;
    }
    let interest = if want {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    };
    match load
        .poll
        .registry()
        .reregister(socket.tcp_mut(), Token(i), interest)
    {
        Ok(()) => conn.write_interest = want,
        Err(e) => fail(conn, load, &format!("reregister: {e}")),
    }
}

/// Reads until the socket would block, checking each echo and sending the
/// next message for it.
fn read_and_answer(conn: &mut Conn, load: &mut Load<'_>, now: Instant) -> Result<(), String> {
    let since_epoch = now.saturating_duration_since(load.epoch);
    loop {
        let (Some(socket), Some(ws)) = (conn.socket.as_mut(), conn.ws.as_mut()) else {
            return Ok(());
        };
        let n = match socket.read(ws.read_buf()) {
            Ok(0) => {
                return Err(match conn.phase {
                    Phase::Closing => "end of stream before the server's close frame".into(),
                    _ => "the server ended the stream (no close frame)".into(),
                });
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read: {e}")),
        };
        ws.commit_read(n, since_epoch);
        if now >= load.schedule.measure_from && now < load.schedule.measure_to {
            *load.wire_in += n as u64;
        }
        answer(conn, load, now)?;
        if conn.phase == Phase::Done {
            return Ok(());
        }
    }
}

/// Handles the events of the bytes read so far.
fn answer(conn: &mut Conn, load: &mut Load<'_>, now: Instant) -> Result<(), String> {
    let t = nanos_since(load.epoch, now);
    let size = load.plan.size;
    loop {
        // A close frame is the answer to ours once every echo is back.
        let close_expected = conn.phase == Phase::Closing && conn.in_flight() == 0;
        let received = conn.received;
        let Some(ws) = conn.ws.as_mut() else {
            return Ok(());
        };
        let data = match ws.next_event() {
            Ok(None) => return Ok(()),
            Ok(Some(Event::Binary(b))) if load.plan.kind == MessageKind::Binary => b,
            Ok(Some(Event::Text(s))) if load.plan.kind == MessageKind::Text => s.as_bytes(),
            Ok(Some(Event::Binary(_) | Event::Text(_))) => {
                return Err(format!(
                    "echo {received} came back as the other message type"
                ));
            }
            Ok(Some(Event::Ping(_) | Event::Pong(_))) => continue,
            Ok(Some(Event::Close { code, reason })) => {
                if close_expected {
                    close_socket(conn, load);
                    return Ok(());
                }
                let code = code.map_or(1005, |c| c.0);
                return Err(format!("the server closed the connection: {code} {reason}"));
            }
            Ok(Some(Event::Fragment { .. })) => return Err("unexpected fragment".into()),
            Err(e) => return Err(format!("protocol error (close {}): {e}", e.close_code().0)),
        };
        if conn.received == conn.sent {
            return Err("an echo of a message never sent".into());
        }
        let start = window(conn.number, conn.received);
        let expected = &load.payload[start..start + size];
        if data != expected {
            return Err(describe_mismatch(conn.received, data, expected));
        }
        let seq = conn.received;
        conn.received += 1;
        let s = &load.schedule;
        if now >= s.measure_from && now < s.measure_to {
            let sent_at = conn.stamps[(seq % conn.stamps.len() as u64) as usize];
            load.hist.record(t.saturating_sub(sent_at));
        }
        if now < s.measure_to {
            send_next(conn, load, now)?;
        } else if conn.in_flight() == 0 && conn.phase == Phase::Open {
            start_close(conn)?;
        }
    }
}

/// Queues the connection's next message; it goes out at the next flush.
fn send_next(conn: &mut Conn, load: &mut Load<'_>, now: Instant) -> Result<(), String> {
    let Some(ws) = conn.ws.as_mut() else {
        return Ok(());
    };
    let start = window(conn.number, conn.sent);
    let data = &load.payload[start..start + load.plan.size];
    ws.send_message(load.plan.kind, data)
        .map_err(|e| format!("send refused: {e}"))?;
    let depth = conn.stamps.len() as u64;
    conn.stamps[(conn.sent % depth) as usize] = nanos_since(load.epoch, now);
    conn.sent += 1;
    Ok(())
}

fn start_close(conn: &mut Conn) -> Result<(), String> {
    if let Some(ws) = conn.ws.as_mut() {
        ws.close(CloseCode::NORMAL, CloseReason::EMPTY)
            .map_err(|e| format!("close: {e}"))?;
        conn.phase = Phase::Closing;
        flush(conn)?;
    }
    Ok(())
}

/// Writes queued output until done or the socket would block.
fn flush(conn: &mut Conn) -> Result<(), String> {
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
fn fail(conn: &mut Conn, load: &mut Load<'_>, message: &str) {
    if conn.phase != Phase::Done {
        load.errors.record(conn.number, message);
        close_socket(conn, load);
    }
}

/// Drops the socket (closing it deregisters it) and marks the connection
/// done.
fn close_socket(conn: &mut Conn, load: &mut Load<'_>) {
    if conn.phase != Phase::Done {
        *load.live -= 1;
    }
    conn.socket = None;
    conn.ws = None;
    conn.handshake = None;
    conn.phase = Phase::Done;
}

/// Where message `seq` of connection `number` starts in the payload bytes.
#[inline]
pub fn window(number: usize, seq: u64) -> usize {
    ((number as u64).wrapping_mul(7).wrapping_add(seq) % WINDOWS as u64) as usize
}

/// The calling thread's time on a CPU so far, from the scheduler's
/// statistics; `None` where /proc does not have them.
pub fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

pub fn nanos_since(epoch: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

fn describe_mismatch(seq: u64, got: &[u8], want: &[u8]) -> String {
    if got.len() != want.len() {
        return format!(
            "echo {seq} has {} bytes, the message had {}",
            got.len(),
            want.len()
        );
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
    format!(
        "echo {seq} differs at byte {at}: got {:#04x}, sent {:#04x}",
        got[at], want[at]
    )
}
