//! Raw TCP mode (`wsload tcp://HOST:PORT`): the WebSocket mode's
//! connections, message sizes and pacing over bare TCP, against a server
//! that writes back every byte it reads.
//!
//! It measures the floor under a WebSocket echo: the same system calls,
//! wake-ups and loopback TCP work with no handshake and no framing, so the
//! part of a WebSocket server's CPU per message above it is what the
//! WebSocket layer and the server's own loop cost.
//!
//! A "message" is `size` payload bytes; its echo is the next `size` bytes
//! the connection reads, however TCP splits them, checked byte for byte
//! against what was sent. Up to `depth` messages are in flight per
//! connection, and the next one is sent as soon as an echo is complete,
//! exactly as in the WebSocket mode. At the end of the window each
//! connection waits for its echoes in flight, shuts down its sending side
//! and waits for the server's end of stream.

use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::cpu::WindowCpu;
use crate::driver::{nanos_since, Errors, Schedule, Share, HANDSHAKE_TIMEOUT};
use crate::echo::{window, Plan, Report, DRAIN_TIMEOUT, WINDOWS};
use crate::histogram::Histogram;
use crate::launch::LoadThread;
use crate::rng::SplitMix64;

/// One read's worth of input, shared by the thread's connections: each
/// read is checked at once, so nothing is kept between reads.
const READ_CHUNK: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Open,
    /// Our end of stream is sent; waiting for the server's.
    Closing,
    Done,
}

struct Conn {
    socket: Option<TcpStream>,
    phase: Phase,
    number: usize,
    sent: u64,
    received: u64,
    /// Bytes of the echo of message `received` already checked.
    got: usize,
    /// Messages queued and not yet written, from `out_at` on.
    out: Vec<u8>,
    out_at: usize,
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

/// One load thread in raw TCP mode: the echo mode's plan and report, its
/// own connections.
pub struct Worker {
    plan: Arc<Plan>,
    share: Share,
    poll: Poll,
    conns: Vec<Conn>,
    payload: Vec<u8>,
    input: Vec<u8>,
    epoch: Instant,
    hist: Histogram,
    errors: Errors,
    live: usize,
    cpu: Option<Duration>,
}

impl Worker {
    pub fn new(plan: Arc<Plan>, share: Share) -> io::Result<Worker> {
        let mut payload = vec![0u8; plan.size + WINDOWS];
        SplitMix64::new(share.seed).fill(&mut payload);
        Ok(Worker {
            poll: Poll::new()?,
            conns: Vec::with_capacity(share.count),
            payload,
            input: vec![0; READ_CHUNK],
            epoch: Instant::now(),
            hist: Histogram::new(),
            errors: Errors { count: 0 },
            live: 0,
            cpu: None,
            plan,
            share,
        })
    }

    /// Opens the thread's connections, at most `handshakes` connects in
    /// flight; false (with the error described) if any fails or another
    /// thread aborted.
    fn connect_all(&mut self, abort: &AtomicBool) -> bool {
        let mut events = Events::with_capacity(256);
        let (mut opened, mut up) = (0, 0);
        while up < self.share.count {
            if abort.load(Ordering::Relaxed) {
                return false;
            }
            while opened - up < self.share.handshakes && opened < self.share.count {
                if let Err(e) = self.open(opened) {
                    self.errors
                        .record(self.share.first + opened, &format!("connect: {e}"));
                    return false;
                }
                opened += 1;
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
                let conn = &mut self.conns[event.token().0];
                match connect_step(conn) {
                    Ok(true) => up += 1,
                    Ok(false) => {}
                    Err(message) => {
                        self.errors.record(conn.number, &message);
                        return false;
                    }
                }
            }
            let now = Instant::now();
            for conn in &self.conns {
                if conn.phase == Phase::Connecting && now >= conn.started + HANDSHAKE_TIMEOUT {
                    let message = format!("not connected within {HANDSHAKE_TIMEOUT:?}");
                    self.errors.record(conn.number, &message);
                    return false;
                }
            }
        }
        true
    }

    fn open(&mut self, i: usize) -> io::Result<()> {
        let mut socket = TcpStream::connect(self.plan.target.addr)?;
        socket.set_nodelay(true)?;
        self.poll.registry().register(
            &mut socket,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        self.conns.push(Conn {
            socket: Some(socket),
            phase: Phase::Connecting,
            number: self.share.first + i,
            sent: 0,
            received: 0,
            got: 0,
            out: Vec::new(),
            out_at: 0,
            stamps: vec![0; self.plan.depth].into_boxed_slice(),
            write_interest: true,
            started: Instant::now(),
        });
        self.live += 1;
        Ok(())
    }

    /// The echo loop, from the start signal to the last end of stream.
    fn echo_loop(&mut self, schedule: Schedule) {
        let mut events = Events::with_capacity(1024);
        let depth = if self.plan.idle { 0 } else { self.plan.depth };
        let mut load = Load {
            plan: &self.plan,
            payload: &self.payload,
            input: &mut self.input,
            epoch: self.epoch,
            schedule,
            poll: &mut self.poll,
            hist: &mut self.hist,
            errors: &mut self.errors,
            live: &mut self.live,
        };
        let conns = &mut self.conns;
        for (i, conn) in conns.iter_mut().enumerate() {
            let now = Instant::now();
            for _ in 0..depth {
                send_next(conn, &load, now);
            }
            let result = flush(conn);
            finish(conn, i, &mut load, result);
        }
        let mut drain_deadline = None;
        let mut cpu = WindowCpu::default();
        loop {
            let now = Instant::now();
            if cpu.sample(now, &schedule) {
                drain_deadline = Some(now + DRAIN_TIMEOUT);
                self.cpu = cpu.used();
                for (i, conn) in conns.iter_mut().enumerate() {
                    if conn.phase == Phase::Open && conn.in_flight() == 0 {
                        let result = start_close(conn);
                        finish(conn, i, &mut load, result);
                    }
                }
            }
            if *load.live == 0 {
                break;
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
                let conn = &mut conns[i];
                if conn.phase == Phase::Done {
                    continue;
                }
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                let now = Instant::now();
                let result = if readable {
                    read_and_answer(conn, &mut load, now)
                } else {
                    Ok(())
                };
                let result = result.and_then(|()| flush(conn));
                finish(conn, i, &mut load, result);
            }
        }
        for conn in conns.iter_mut() {
            let message = match conn.phase {
                Phase::Done => continue,
                Phase::Closing => "the server did not end its stream".to_owned(),
                _ => format!(
                    "{} echo(es) missing {DRAIN_TIMEOUT:?} after the end",
                    conn.in_flight()
                ),
            };
            fail(conn, &mut load, &message);
        }
    }
}

impl LoadThread for Worker {
    type Report = Report;

    fn connect(&mut self, abort: &AtomicBool) -> bool {
        self.connect_all(abort)
    }

    fn load(&mut self, schedule: Schedule) {
        self.echo_loop(schedule);
    }

    fn report(self) -> Report {
        Report {
            msgs: self.hist.count(),
            hist: self.hist,
            errors: self.errors.count,
            cpu: self.cpu,
            wire_in: 0,
        }
    }
}

/// The thread-wide state a connection's events update.
struct Load<'a> {
    plan: &'a Plan,
    payload: &'a [u8],
    input: &'a mut [u8],
    epoch: Instant,
    schedule: Schedule,
    poll: &'a mut Poll,
    hist: &'a mut Histogram,
    errors: &'a mut Errors,
    live: &'a mut usize,
}

/// Advances a non-blocking connect; true once connected.
fn connect_step(conn: &mut Conn) -> Result<bool, String> {
    let Some(socket) = conn.socket.as_mut() else {
        return Ok(false);
    };
    if conn.phase != Phase::Connecting {
        return Ok(false);
    }
    if let Some(e) = socket.take_error().map_err(|e| format!("connect: {e}"))? {
        return Err(format!("connect: {e}"));
    }
    match socket.peer_addr() {
        Ok(_) => {
            conn.phase = Phase::Open;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(format!("connect: {e}")),
    }
}

/// Reads until the socket would block, checking the echoes and sending
/// the next message for each one complete.
fn read_and_answer(conn: &mut Conn, load: &mut Load<'_>, now: Instant) -> Result<(), String> {
    let t = nanos_since(load.epoch, now);
    let size = load.plan.size;
    loop {
        let Some(socket) = conn.socket.as_mut() else {
            return Ok(());
        };
        let n = match socket.read(load.input) {
            Ok(0) if conn.phase == Phase::Closing && conn.in_flight() == 0 => {
                close_socket(conn, load);
                return Ok(());
            }
            Ok(0) => return Err("the server ended the stream".into()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read: {e}")),
        };
        let mut data = &load.input[..n];
        while !data.is_empty() {
            if conn.received == conn.sent {
                return Err("bytes beyond the echoes of the messages sent".into());
            }
            let start = window(conn.number, conn.received) + conn.got;
            let take = data.len().min(size - conn.got);
            let expected = &load.payload[start..start + take];
            if data[..take] != *expected {
                let at = data.iter().zip(expected).position(|(a, b)| a != b);
                let at = at.unwrap_or(0);
                return Err(format!(
                    "echo {} differs at byte {}: got {:#04x}, sent {:#04x}",
                    conn.received,
                    conn.got + at,
                    data[at],
                    expected[at]
                ));
            }
            data = &data[take..];
            conn.got += take;
            if conn.got < size {
                break;
            }
            conn.got = 0;
            let seq = conn.received;
            conn.received += 1;
            let s = &load.schedule;
            if now >= s.measure_from && now < s.measure_to {
                let sent_at = conn.stamps[(seq % conn.stamps.len() as u64) as usize];
                load.hist.record(t.saturating_sub(sent_at));
            }
            if now < s.measure_to {
                send_next(conn, load, now);
            } else if conn.in_flight() == 0 && conn.phase == Phase::Open {
                start_close(conn)?;
            }
        }
    }
}

/// Queues the connection's next message; it goes out at the next flush.
fn send_next(conn: &mut Conn, load: &Load<'_>, now: Instant) {
    let start = window(conn.number, conn.sent);
    conn.out
        .extend_from_slice(&load.payload[start..start + load.plan.size]);
    let depth = conn.stamps.len() as u64;
    conn.stamps[(conn.sent % depth) as usize] = nanos_since(load.epoch, now);
    conn.sent += 1;
}

/// Writes queued messages until done or the socket would block.
fn flush(conn: &mut Conn) -> Result<(), String> {
    let Some(socket) = conn.socket.as_mut() else {
        return Ok(());
    };
    while conn.out_at < conn.out.len() {
        match socket.write(&conn.out[conn.out_at..]) {
            Ok(0) => return Err("write: the connection closed".into()),
            Ok(n) => conn.out_at += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("write: {e}")),
        }
    }
    conn.out.clear();
    conn.out_at = 0;
    Ok(())
}

/// Ends our side of the stream; the server's end of stream completes the
/// connection.
fn start_close(conn: &mut Conn) -> Result<(), String> {
    if let Some(socket) = conn.socket.as_mut() {
        socket
            .shutdown(Shutdown::Write)
            .map_err(|e| format!("shutdown: {e}"))?;
        conn.phase = Phase::Closing;
    }
    Ok(())
}

/// Records an error, or registers for writable only while output waits.
fn finish(conn: &mut Conn, i: usize, load: &mut Load<'_>, result: Result<(), String>) {
    if let Err(message) = result {
        fail(conn, load, &message);
        return;
    }
    let Some(socket) = conn.socket.as_mut() else {
        return;
    };
    let want = conn.out_at < conn.out.len();
    if want == conn.write_interest {
        return;
    }
    let interest = if want {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    };
    match load.poll.registry().reregister(socket, Token(i), interest) {
        Ok(()) => conn.write_interest = want,
        Err(e) => fail(conn, load, &format!("reregister: {e}")),
    }
}

fn fail(conn: &mut Conn, load: &mut Load<'_>, message: &str) {
    if conn.phase != Phase::Done {
        load.errors.record(conn.number, message);
        close_socket(conn, load);
    }
}

fn close_socket(conn: &mut Conn, load: &mut Load<'_>) {
    if conn.phase != Phase::Done {
        *load.live -= 1;
    }
    conn.socket = None;
    conn.out = Vec::new();
    conn.phase = Phase::Done;
}
