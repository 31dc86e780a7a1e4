//! The reconnect-storm driver behind `scripts/bench-storm.sh`: N WebSocket
//! clients on one mio loop connect to an echo-server it starts, the server
//! is killed (SIGKILL) and started again on the same port, and every
//! client reconnects with the delay policy under test:
//!
//! - `jitter`: [`Backoff::default`], the policy of our reconnecting client
//!   and of /rfc6455.js (full jitter, 1 s initial ceiling, doubling, 5 s
//!   at most);
//! - `jitter-max30`: the same with a 30 s ceiling;
//! - `fixed`: the seed's Vue client, 5 s after a loss and 5 s after every
//!   failed attempt.
//!
//! It prints one JSON line: how long until every client was back (from the
//! first loss), the peak rate of completed handshakes (over 100 ms
//! windows), failed attempts, and the spread of the clients' times back.
//!
//! ```text
//! storm --server target/release/echo-server --clients 10000 --policy jitter [--server-cpu 0] [--down SECS]
//! ```
//!
//! `--down SECS` keeps the server down that long before starting it again
//! (a restart that takes time): attempts in between are refused.
//!
//! ```text
//! ```

use std::collections::BinaryHeap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rfc6455::reconnect::Backoff;

/// Handshakes in flight while the clients first connect (not measured).
const SETUP_IN_FLIGHT: usize = 500;
/// An attempt that has not completed its handshake by then has failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole storm is given up after this long.
const STORM_LIMIT: Duration = Duration::from_secs(120);

enum Step {
    Wait,
    Fail,
    Opened,
}

#[derive(PartialEq)]
enum State {
    /// Waiting to (re)connect at `Client::due`.
    Waiting,
    /// Connecting, then writing the request and reading the 101.
    Handshake {
        written: usize,
        read: Vec<u8>,
    },
    Open,
}

struct Client {
    state: State,
    socket: Option<TcpStream>,
    attempt: u32,
    /// When the current attempt started (for its timeout).
    started: Instant,
    /// Bumped at each attempt, so stale timer entries are skipped.
    epoch: u64,
    /// Back after the storm (measured phase).
    back_at: Option<Instant>,
}

struct Storm {
    poll: Poll,
    addr: SocketAddr,
    request: Vec<u8>,
    clients: Vec<Client>,
    timers: BinaryHeap<std::cmp::Reverse<(Instant, usize, u64)>>,
    backoff: Backoff,
    open: usize,
    in_flight: usize,
    failed: u64,
    /// The storm began (first loss seen).
    t0: Option<Instant>,
    rng: u64,
}

impl Storm {
    fn random(&mut self) -> f64 {
        // xorshift64*: enough for delays.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn start_attempt(&mut self, i: usize, now: Instant) {
        let c = &mut self.clients[i];
        c.epoch += 1;
        c.started = now;
        match TcpStream::connect(self.addr) {
            Ok(mut s) => {
                self.poll
                    .registry()
                    .register(&mut s, Token(i), Interest::READABLE | Interest::WRITABLE)
                    .expect("register");
                c.socket = Some(s);
                c.state = State::Handshake {
                    written: 0,
                    read: Vec::new(),
                };
                self.in_flight += 1;
                let epoch = c.epoch;
                self.timers
                    .push(std::cmp::Reverse((now + ATTEMPT_TIMEOUT, i, epoch)));
            }
            Err(_) => self.fail(i, now),
        }
    }

    /// The attempt failed (or the open connection was lost): schedule the
    /// next one.
    fn fail(&mut self, i: usize, now: Instant) {
        let was_open = self.clients[i].state == State::Open;
        let was_handshake = matches!(self.clients[i].state, State::Handshake { .. });
        if let Some(mut s) = self.clients[i].socket.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        if was_open {
            self.open -= 1;
            self.t0.get_or_insert(now);
        } else {
            self.failed += 1;
        }
        if was_handshake {
            self.in_flight -= 1;
        }
        let unit = self.random();
        let c = &mut self.clients[i];
        let delay = self.backoff.delay(c.attempt, unit);
        c.attempt += 1;
        c.state = State::Waiting;
        c.epoch += 1;
        self.timers
            .push(std::cmp::Reverse((now + delay, i, c.epoch)));
    }

    fn ready(&mut self, i: usize, now: Instant) {
        match self.advance(i) {
            Step::Wait => {}
            Step::Fail => self.fail(i, now),
            Step::Opened => {
                let c = &mut self.clients[i];
                c.state = State::Open;
                c.attempt = 0;
                if self.t0.is_some() {
                    c.back_at = Some(now);
                }
                self.open += 1;
                self.in_flight -= 1;
            }
        }
    }

    /// Moves one client's I/O along as far as the socket allows.
    fn advance(&mut self, i: usize) -> Step {
        let request = &self.request;
        let c = &mut self.clients[i];
        let Some(s) = c.socket.as_mut() else {
            return Step::Wait;
        };
        let mut buf = [0u8; 512];
        match &mut c.state {
            State::Handshake { written, read } => {
                while *written < request.len() {
                    match s.write(&request[*written..]) {
                        Ok(n) => *written += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return Step::Wait,
                        Err(e) if e.kind() == ErrorKind::NotConnected => return Step::Wait,
                        Err(_) => return Step::Fail,
                    }
                }
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => return Step::Fail,
                        Ok(n) => read.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => return Step::Fail,
                    }
                }
                if !read.windows(4).any(|w| w == b"\r\n\r\n") {
                    Step::Wait
                } else if read.starts_with(b"HTTP/1.1 101") {
                    Step::Opened
                } else {
                    Step::Fail // 503 when full, say
                }
            }
            State::Open => loop {
                match s.read(&mut buf) {
                    Ok(0) => return Step::Fail,
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Step::Wait,
                    Err(_) => return Step::Fail,
                }
            },
            State::Waiting => Step::Wait,
        }
    }

    fn due_timers(&mut self, now: Instant, mut admit: impl FnMut(&Storm) -> bool) {
        while let Some(std::cmp::Reverse((at, i, epoch))) = self.timers.peek().copied() {
            if at > now {
                return;
            }
            if self.clients[i].epoch == epoch && !admit(self) {
                return;
            }
            self.timers.pop();
            if self.clients[i].epoch != epoch {
                continue;
            }
            match self.clients[i].state {
                State::Waiting => self.start_attempt(i, now),
                State::Handshake { .. } => self.fail(i, now), // attempt timeout
                State::Open => {}
            }
        }
    }

    fn turn(&mut self, events: &mut Events, admit: impl FnMut(&Storm) -> bool) {
        let now = Instant::now();
        let next = self.timers.peek().map(|r| r.0 .0);
        let timeout = next.map_or(Duration::from_millis(100), |t| {
            t.saturating_duration_since(now)
                .min(Duration::from_millis(100))
        });
        self.poll.poll(events, Some(timeout)).expect("poll");
        let now = Instant::now();
        for event in events.iter() {
            self.ready(event.token().0, now);
        }
        self.due_timers(now, admit);
    }
}

fn start_server(server: &str, cpu: Option<usize>, port: u16) -> (Child, u16) {
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "--listen",
        &listen,
        "--threads",
        "2",
        "--max-connections",
        "100000",
        "--log",
        "error",
    ];
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string(), server]);
            c
        }
        None => Command::new(server),
    };
    let mut child = cmd
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the server");
    let mut out = child.stdout.take().expect("stdout");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&line);
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}

fn main() {
    let mut server = String::from("target/release/echo-server");
    let mut clients = 10_000usize;
    let mut policy = String::from("jitter");
    let mut cpu = None;
    let mut down = Duration::ZERO;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("a value");
        match a.as_str() {
            "--server" => server = value(),
            "--clients" => clients = value().parse().expect("--clients N"),
            "--policy" => policy = value(),
            "--server-cpu" => cpu = Some(value().parse().expect("--server-cpu N")),
            "--down" => down = Duration::from_secs_f64(value().parse().expect("--down SECS")),
            _ => panic!("unknown argument {a}"),
        }
    }
    let backoff = match policy.as_str() {
        "jitter" => Backoff::default(),
        "jitter-max30" => Backoff {
            max: Duration::from_secs(30),
            ..Backoff::default()
        },
        "fixed" => Backoff {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(5),
            factor: 1.0,
            jitter: false,
        },
        _ => panic!("--policy jitter|jitter-max30|fixed"),
    };
    let (mut child, port) = start_server(&server, cpu, 0);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let request = format!(
        "GET /storm HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes();
    let now = Instant::now();
    let mut storm = Storm {
        poll: Poll::new().expect("poll"),
        addr,
        request,
        clients: (0..clients)
            .map(|_| Client {
                state: State::Waiting,
                socket: None,
                attempt: 0,
                started: now,
                epoch: 0,
                back_at: None,
            })
            .collect(),
        timers: (0..clients)
            .map(|i| std::cmp::Reverse((now, i, 0)))
            .collect(),
        backoff,
        open: 0,
        in_flight: 0,
        failed: 0,
        t0: None,
        rng: 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()),
    };
    let mut events = Events::with_capacity(4096);
    // Setup: everyone connects, a few hundred handshakes at a time.
    let setup = Instant::now();
    while storm.open < clients {
        storm.turn(&mut events, |s| s.in_flight < SETUP_IN_FLIGHT);
        assert!(
            setup.elapsed() < STORM_LIMIT,
            "setup: {} of {clients} open",
            storm.open
        );
    }
    let setup_failed = storm.failed;
    storm.failed = 0;
    eprintln!(
        "{policy}: {clients} clients connected in {:.1} s; killing the server",
        setup.elapsed().as_secs_f64()
    );
    // The restart: SIGKILL, then the same command on the same port.
    let _ = child.kill();
    let _ = child.wait();
    let killed = Instant::now();
    // Clients notice, and retry against a closed port, while it is down.
    while killed.elapsed() < down {
        storm.turn(&mut events, |_| true);
    }
    let (mut child, _) = start_server(&server, cpu, port);
    let restarted = killed.elapsed();
    while storm.clients.iter().any(|c| c.back_at.is_none()) {
        storm.turn(&mut events, |_| true);
        if killed.elapsed() > STORM_LIMIT {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let t0 = storm.t0.unwrap_or(killed);
    let mut backs: Vec<f64> = storm
        .clients
        .iter()
        .filter_map(|c| c.back_at)
        .map(|t| t.duration_since(t0).as_secs_f64())
        .collect();
    backs.sort_by(f64::total_cmp);
    let back = backs.len();
    let mut windows = std::collections::HashMap::<u64, u64>::new();
    for b in &backs {
        *windows.entry((b * 10.0) as u64).or_default() += 1;
    }
    let peak = windows.values().copied().max().unwrap_or(0) * 10;
    let pct = |p: f64| backs.get(((back as f64 * p) as usize).min(back.saturating_sub(1)));
    println!(
        "{{\"policy\":\"{policy}\",\"clients\":{clients},\"back\":{back},\"all_back_s\":{:.3},\
         \"p50_s\":{:.3},\"p99_s\":{:.3},\"peak_per_s\":{peak},\"failed_attempts\":{},\
         \"server_down_ms\":{},\"setup_failed\":{setup_failed}}}",
        backs.last().copied().unwrap_or(f64::NAN),
        pct(0.5).copied().unwrap_or(f64::NAN),
        pct(0.99).copied().unwrap_or(f64::NAN),
        storm.failed,
        restarted.as_millis(),
    );
}
