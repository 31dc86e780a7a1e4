//! Clients that stay connected, over loopback: keepalive notices a server
//! that went silent (and not one that is merely quiet), the reconnecting
//! client comes back after the server restarts on the same port, resumes
//! with the missed messages exactly once, and runs its resubscribe hook on
//! every connection. At the edges: the read timeout against keepalive
//! pongs, `max_attempts` after a loss, delays that grow while connections
//! close at once, a wait after giving up, timeouts too large to add to an
//! `Instant`, `close` bounded by its own timeout, and a pong read after
//! the caller was away past the keepalive timeout. Each test starts its
//! own servers on ephemeral ports and stops them before returning.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rfc6455::client::{Client, ClientConfig, Error, Keepalive};
use rfc6455::connection::MessageKind;
use rfc6455::handshake::AcceptKey;
use rfc6455::reconnect::{Backoff, Incoming, Payload, ReconnectConfig, Reconnecting};
use rfc6455::server::app::{App, AppConfig};
use rfc6455::server::{HistoryLimits, Server, ServerConfig, ServerHandle};

struct Running {
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    fn stop(mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread").expect("server result");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(listen: SocketAddr) -> (SocketAddr, Running) {
    let config = ServerConfig {
        listen,
        threads: 2,
        close_timeout: Duration::from_secs(1),
        history: Some(HistoryLimits::default()),
        ..ServerConfig::default()
    };
    let server = Server::bind(config).expect("bind");
    let addr = server.local_addr();
    let handle = server.handle();
    let app = Arc::new(AppConfig::default());
    let thread = std::thread::spawn(move || server.run(move || App::new(Arc::clone(&app))));
    let running = Running {
        handle,
        thread: Some(thread),
    };
    (addr, running)
}

fn await_subscriptions(server: &Running, n: usize) {
    for _ in 0..2000 {
        if server.handle.stats().subscriptions == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{:?}", server.handle.stats());
}

fn quick() -> ReconnectConfig {
    ReconnectConfig {
        client: ClientConfig {
            read_timeout: Some(Duration::from_secs(10)),
            keepalive: Some(Keepalive {
                interval: Duration::from_millis(500),
                timeout: Duration::from_millis(500),
            }),
            ..ClientConfig::default()
        },
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
            ..Backoff::default()
        },
        resume: true,
        max_attempts: Some(100),
        ..ReconnectConfig::default()
    }
}

/// No keepalive, a 5 s read timeout, and this backoff (ms) and
/// `max_attempts`: for the tests of reconnect timing.
fn without_keepalive(
    initial: u64,
    max: u64,
    jitter: bool,
    attempts: Option<u32>,
) -> ReconnectConfig {
    ReconnectConfig {
        client: ClientConfig {
            read_timeout: Some(Duration::from_secs(5)),
            keepalive: None,
            ..ClientConfig::default()
        },
        backoff: Backoff {
            initial: Duration::from_millis(initial),
            max: Duration::from_millis(max),
            jitter,
            ..Backoff::default()
        },
        max_attempts: attempts,
        ..ReconnectConfig::default()
    }
}

/// The next tagged message: (id, text).
fn tagged(c: &mut Reconnecting) -> (u64, String) {
    match c.recv().expect("recv") {
        Incoming::Tagged {
            id,
            payload: Payload::Text(t),
            ..
        } => (id, t),
        other => panic!("expected a tagged message, got {other:?}"),
    }
}

/// Reads an HTTP upgrade request from `s` and answers 101.
fn accept_upgrade(s: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap()
        .trim()
        .to_owned();
    let accept = AcceptKey::from_key(key.as_bytes());
    write!(
        s,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept.as_str()
    )
    .unwrap();
}

/// A server that completes the opening handshake and then never says
/// anything again (nor reads): what a half-open link looks like.
fn silent_server() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        accept_upgrade(&mut s);
        // Hold the socket open, silent, until the client gives up on it.
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    });
    (addr, thread)
}

/// A server on a loopback port that hands each accepted connection, with
/// its number (from 0), to `serve`, until the returned guard is stopped.
struct Scripted {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Scripted {
    fn start(mut serve: impl FnMut(usize, TcpStream) + Send + 'static) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let accepts = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepts, stop) = (Arc::clone(&accepts), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            s.set_nonblocking(false).unwrap();
                            serve(accepts.fetch_add(1, Ordering::SeqCst), s);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        Scripted {
            addr,
            accepts,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the server (after any late attempt) and returns how many
    /// connections it accepted.
    fn stop(mut self) -> usize {
        std::thread::sleep(Duration::from_millis(50));
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.accepts.load(Ordering::SeqCst)
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_poll_after_a_slow_flush_still_reads_what_came() {
    // A message waits for the client while its queued output drains
    // slowly into a server reading 256 KiB every 2 ms: the flush at the
    // start of recv outlasts a zero read timeout, which once meant
    // Timeout without a look at the socket.
    let go = Arc::new(AtomicBool::new(false));
    let server = {
        let go = Arc::clone(&go);
        Scripted::start(move |_, mut s| {
            accept_upgrade(&mut s);
            let go = Arc::clone(&go);
            std::thread::spawn(move || {
                // Not until the client's send has timed out.
                let deadline = Instant::now() + Duration::from_secs(30);
                while !go.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                s.write_all(&[0x81, 2, b'h', b'i']).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut buf = vec![0u8; 256 << 10];
                loop {
                    std::thread::sleep(Duration::from_millis(2));
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        })
    };
    let config = ClientConfig {
        write_timeout: Some(Duration::from_millis(50)),
        ..ClientConfig::default()
    };
    let mut c = Client::connect_with(&format!("ws://{}/", server.addr), &config).unwrap();
    // More than the socket buffers take (receive buffers grow to 32 MiB
    // here): the rest stays queued.
    let sent = c.send_binary(&vec![7u8; 64 << 20]);
    assert!(matches!(sent, Err(Error::Timeout)), "{sent:?}");
    go.store(true, Ordering::SeqCst);
    c.set_read_timeout(Some(Duration::ZERO)).unwrap();
    let got = format!("{:?}", c.recv());
    assert_eq!(got, "Ok(Text(\"hi\"))");
    drop(c);
    server.stop();
}

#[test]
fn keepalive_detects_a_silent_server() {
    let (addr, thread) = silent_server();
    let config = ClientConfig {
        keepalive: Some(Keepalive {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(200),
        }),
        ..ClientConfig::default()
    };
    let mut c = Client::connect_with(&format!("ws://{addr}/"), &config).unwrap();
    let t0 = Instant::now();
    match c.recv() {
        Err(Error::KeepaliveTimeout) => {}
        other => panic!("expected a keepalive timeout, got {other:?}"),
    }
    // Not before the ping was due plus its timeout.
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );
    thread.join().unwrap();
}

#[test]
fn keepalive_leaves_a_quiet_live_server_alone() {
    let (addr, server) = start("127.0.0.1:0".parse().unwrap());
    let config = ClientConfig {
        read_timeout: Some(Duration::from_secs(5)),
        keepalive: Some(Keepalive {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(200),
        }),
        ..ClientConfig::default()
    };
    let mut c = Client::connect_with(&format!("ws://{addr}/echo"), &config).unwrap();
    // Several keepalive rounds over 800 ms of silence, all answered, and
    // the connection still echoes.
    let mut pongs = 0;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(800) {
        match c.recv() {
            Ok(rfc6455::Event::Pong(b"")) => pongs += 1,
            other => panic!("expected keepalive pongs, got {other:?}"),
        }
    }
    assert!(pongs >= 2, "{pongs} keepalive pongs");
    c.send_text("still here").unwrap();
    loop {
        match c.recv().unwrap() {
            rfc6455::Event::Text(t) => {
                assert_eq!(t, "still here");
                break;
            }
            rfc6455::Event::Pong(_) => {}
            other => panic!("{other:?}"),
        }
    }
    server.stop();
}

#[test]
fn reconnects_after_a_restart_and_resumes_exactly_once() {
    let (addr, server) = start("127.0.0.1:0".parse().unwrap());
    let mut c = Reconnecting::new(&format!("ws://{addr}/topic/news"), quick());
    assert!(matches!(
        c.recv().unwrap(),
        Incoming::Connected { reconnected: false }
    ));
    assert!(matches!(
        c.recv().unwrap(),
        Incoming::Subscribed {
            last: 0,
            recovered: None,
            ..
        }
    ));
    await_subscriptions(&server, 1);
    for i in 1..=3 {
        server
            .handle
            .publish("news", MessageKind::Text, format!("m{i}").as_bytes());
    }
    for i in 1..=3 {
        assert_eq!(tagged(&mut c), (i, format!("m{i}")));
    }

    // A loss while the server goes on: what was published meanwhile comes
    // once each, then the live stream.
    c.reconnect_now();
    await_subscriptions(&server, 0);
    for i in 4..=6 {
        server
            .handle
            .publish("news", MessageKind::Text, format!("m{i}").as_bytes());
    }
    assert!(matches!(
        c.recv().unwrap(),
        Incoming::Connected { reconnected: true }
    ));
    assert!(matches!(
        c.recv().unwrap(),
        Incoming::Subscribed {
            last: 6,
            recovered: Some(true),
            ..
        }
    ));
    for i in 4..=6 {
        assert_eq!(tagged(&mut c), (i, format!("m{i}")));
    }
    await_subscriptions(&server, 1);
    server.handle.publish("news", MessageKind::Text, b"m7");
    assert_eq!(tagged(&mut c), (7, "m7".to_owned()));

    // The server restarts on the same port: a new epoch, said as such, and
    // what the new server published before the client was back arrives.
    server.stop();
    match c.recv().unwrap() {
        Incoming::Disconnected { retry_in, .. } => assert!(retry_in <= Duration::from_millis(200)),
        other => panic!("{other:?}"),
    }
    let (again, server) = start(addr);
    assert_eq!(again, addr);
    server.handle.publish("news", MessageKind::Text, b"after");
    assert!(matches!(
        c.recv().unwrap(),
        Incoming::Connected { reconnected: true }
    ));
    assert!(matches!(
        c.recv().unwrap(),
        Incoming::Subscribed {
            last: 1,
            recovered: Some(false),
            ..
        }
    ));
    assert_eq!(tagged(&mut c), (1, "after".to_owned()));
    server.stop();
}

#[test]
fn the_hook_runs_on_every_connection_and_queued_lines_follow() {
    let (addr, server) = start("127.0.0.1:0".parse().unwrap());
    let config = ReconnectConfig {
        resume: false,
        ..quick()
    };
    let mut c = Reconnecting::new(&format!("ws://{addr}/echo"), config);
    c.on_connect(|client| client.send_text("hello again"));
    c.send_text("queued before connecting").unwrap();
    assert!(matches!(
        c.recv().unwrap(),
        Incoming::Connected { reconnected: false }
    ));
    let mut texts = Vec::new();
    for _ in 0..2 {
        match c.recv().unwrap() {
            Incoming::Text(t) => texts.push(t),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(texts, ["hello again", "queued before connecting"]);
    c.reconnect_now();
    assert!(matches!(
        c.recv().unwrap(),
        Incoming::Connected { reconnected: true }
    ));
    assert!(matches!(c.recv().unwrap(), Incoming::Text(t) if t == "hello again"));
    c.close().unwrap();
    server.stop();
}

#[test]
fn a_refusal_that_retrying_cannot_change_is_returned() {
    let (addr, server) = start("127.0.0.1:0".parse().unwrap());
    let mut c = Reconnecting::new(&format!("ws://{addr}/topic/%FF"), quick());
    match c.recv() {
        Err(Error::Handshake(e)) => assert!(e.to_string().contains("400"), "{e}"),
        other => panic!("{other:?}"),
    }
    server.stop();
}

/// `recv` fails with `Error::Timeout` when the client's read timeout passes
/// without a message, also with keepalive pongs arriving more often than
/// that (each used to start the wait over).
#[test]
fn read_timeout_fires_on_a_quiet_live_connection_with_keepalive() {
    let (addr, server) = start("127.0.0.1:0".parse().unwrap());
    let config = ReconnectConfig {
        client: ClientConfig {
            read_timeout: Some(Duration::from_millis(800)),
            keepalive: Some(Keepalive {
                interval: Duration::from_millis(200),
                timeout: Duration::from_millis(500),
            }),
            ..ClientConfig::default()
        },
        resume: false,
        ..ReconnectConfig::default()
    };
    let mut c = Reconnecting::new(&format!("ws://{addr}/echo"), config);
    assert!(matches!(
        c.recv().unwrap(),
        Incoming::Connected { reconnected: false }
    ));
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let t0 = Instant::now();
        let r = c.recv();
        let timed_out = matches!(r, Err(Error::Timeout));
        let _ = tx.send((t0.elapsed(), timed_out, format!("{r:?}")));
    });
    let got = rx.recv_timeout(Duration::from_secs(4));
    drop(server); // ends the connection, so the waiter returns either way
    let _ = waiter.join();
    match got {
        Ok((elapsed, timed_out, r)) => {
            assert!(timed_out, "{r}");
            assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        }
        Err(_) => panic!(
            "Reconnecting::recv with read_timeout 800 ms was still blocked after 4 s \
             on a quiet, live connection (keepalive pongs restart the timeout)"
        ),
    }
}

/// "Give up after this many failed attempts in a row": after a loss too
/// (the loss itself used to count as one).
#[test]
fn max_attempts_after_a_loss_makes_that_many_attempts() {
    let server = Scripted::start(|n, mut s| {
        if n == 0 {
            // The first connection opens, then the server goes.
            accept_upgrade(&mut s);
        }
        // Later ones: refused mid-handshake.
    });
    let addr = server.addr;
    let config = without_keepalive(10, 20, true, Some(3));
    let mut c = Reconnecting::new(&format!("ws://{addr}/"), config);
    assert!(matches!(
        c.recv().unwrap(),
        Incoming::Connected { reconnected: false }
    ));
    assert!(matches!(c.recv().unwrap(), Incoming::Disconnected { .. }));
    let last = c.recv();
    assert!(last.is_err(), "{last:?}");
    let attempts_after_loss = server.stop() - 1;
    assert_eq!(
        attempts_after_loss, 3,
        "max_attempts: Some(3) but it gave up after {attempts_after_loss} failed attempts"
    );
}

#[test]
fn an_unbounded_backoff_ceiling_does_not_panic() {
    let b = Backoff {
        max: Duration::MAX,
        ..Backoff::default()
    };
    let r = std::panic::catch_unwind(|| b.ceiling(64));
    assert!(
        r.is_ok(),
        "Backoff::ceiling(64) panicked with max = Duration::MAX"
    );
}

/// A server that accepts and closes at once (the bundled app's 1008 on a
/// topic limit) sees the delays grow: they start over only after a
/// connection that lasted.
#[test]
fn backoff_grows_when_every_connection_is_closed_at_once() {
    let server = Scripted::start(|_, mut s| {
        accept_upgrade(&mut s);
        // Close 1008 "topic limit", then end the connection.
        let mut frame = vec![0x88, 13, 0x03, 0xF0];
        frame.extend_from_slice(b"topic limit");
        let _ = s.write_all(&frame);
        std::thread::sleep(Duration::from_millis(20));
    });
    let addr = server.addr;
    let config = without_keepalive(10, 80, false, None);
    let mut c = Reconnecting::new(&format!("ws://{addr}/"), config);
    let mut delays = Vec::new();
    while delays.len() < 4 {
        match c.recv() {
            Ok(Incoming::Disconnected { retry_in, .. }) => delays.push(retry_in),
            Ok(_) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    server.stop();
    assert!(
        delays.last().unwrap() > delays.first().unwrap(),
        "four connections in a row closed at once by the server, delays {delays:?}"
    );
}

/// A read timeout of `Duration::MAX` means waiting, not an overflow of
/// `Instant`.
#[test]
fn a_very_long_read_timeout_does_not_panic() {
    let (addr, server) = start("127.0.0.1:0".parse().unwrap());
    let config = ClientConfig {
        read_timeout: Some(Duration::MAX),
        ..ClientConfig::default()
    };
    let mut c = Client::connect_with(&format!("ws://{addr}/echo"), &config).unwrap();
    c.send_text("x").unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        matches!(c.recv(), Ok(rfc6455::Event::Text("x")))
    }));
    drop(server);
    assert!(
        matches!(r, Ok(true)),
        "recv with read_timeout Some(Duration::MAX) panicked or failed"
    );
}

/// From a cold start, `max_attempts: Some(3)` makes 3 attempts.
#[test]
fn max_attempts_from_a_cold_start_makes_that_many_attempts() {
    // Every connection is refused mid-handshake.
    let server = Scripted::start(|_, _| {});
    let addr = server.addr;
    let config = without_keepalive(10, 20, true, Some(3));
    let mut c = Reconnecting::new(&format!("ws://{addr}/"), config);
    assert!(c.recv().is_err());
    assert_eq!(server.stop(), 3);
}

/// After giving up, a caller that calls `recv` again (retrying on every
/// error is common) waits a delay before the next round of attempts,
/// instead of a hot loop against a server that refuses.
#[test]
fn recv_after_giving_up_waits_before_trying_again() {
    // A port with nothing listening: every attempt is refused at once.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = without_keepalive(200, 200, false, Some(1));
    let mut c = Reconnecting::new(&format!("ws://{addr}/"), config);
    assert!(c.recv().is_err(), "the first round gives up");
    let t0 = Instant::now();
    assert!(c.recv().is_err(), "the second round gives up too");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(150),
        "the second round started after {waited:?}"
    );
}

/// Reads and discards what comes until the client hangs up (10 s at most).
fn drain(mut s: TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = [0u8; 256];
    while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
}

/// A server that completes the handshake, then reads and discards
/// everything, never answering: not a ping, not a close.
fn deaf(_: usize, mut s: TcpStream) {
    accept_upgrade(&mut s);
    std::thread::spawn(move || drain(s));
}

/// A 200 ms close timeout, with keepalive's waits far longer.
fn quick_close() -> ClientConfig {
    ClientConfig {
        close_timeout: Duration::from_millis(200),
        keepalive: Some(Keepalive {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }),
        ..ClientConfig::default()
    }
}

#[test]
fn close_gives_up_after_close_timeout_with_keepalive_on() {
    // The keepalive's long waits once decided how long `close` waited for
    // a server that never answers (a minute here), not `close_timeout`.
    let server = Scripted::start(deaf);
    let mut c = Client::connect_with(&format!("ws://{}/", server.addr), &quick_close()).unwrap();
    match c.close(rfc6455::CloseCode::NORMAL, "") {
        Err(Error::Timeout) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    server.stop();
}

/// A server that takes the upgrade, then reads nothing, holding the
/// connection until the returned sender is used (a minute at most).
fn stops_reading() -> (Scripted, mpsc::Sender<()>) {
    let (release, held) = mpsc::channel::<()>();
    let held = std::sync::Mutex::new(Some(held));
    let server = Scripted::start(move |_, mut s| {
        accept_upgrade(&mut s);
        let held = held.lock().unwrap().take();
        std::thread::spawn(move || {
            if let Some(held) = held {
                let _ = held.recv_timeout(Duration::from_secs(60));
            }
            drop(s);
        });
    });
    (server, release)
}

#[test]
fn close_gives_up_after_close_timeout_when_the_server_stops_reading() {
    // The socket's buffers fill with what the client queued, and the close
    // frame waits behind it. `close` once wrote with no time limit, so it
    // blocked for as long as the server held the connection.
    let (server, release) = stops_reading();
    let config = ClientConfig {
        write_timeout: None,
        ..quick_close()
    };
    let mut c = Client::connect_with(&format!("ws://{}/", server.addr), &config).unwrap();
    // Far more than loopback's socket buffers take.
    let chunk = vec![7u8; 1 << 20];
    for _ in 0..48 {
        c.connection().send_binary(&chunk).unwrap();
    }
    let (done, closed) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(c.close(rfc6455::CloseCode::NORMAL, "").map(|_| ()));
    });
    let result = closed.recv_timeout(Duration::from_secs(30));
    let _ = release.send(());
    match result {
        Ok(Err(Error::Timeout)) => {}
        Ok(other) => panic!("expected a timeout, got {other:?}"),
        Err(_) => panic!("close still blocked after 30 s with a 200 ms close timeout"),
    }
    server.stop();
}

#[test]
fn a_send_to_a_server_that_stopped_reading_times_out_and_stays_queued() {
    let (server, release) = stops_reading();
    let config = ClientConfig {
        write_timeout: Some(Duration::from_millis(200)),
        ..ClientConfig::default()
    };
    let mut c = Client::connect_with(&format!("ws://{}/", server.addr), &config).unwrap();
    // Far more than loopback's socket buffers take, in one message.
    let big = vec![7u8; 48 << 20];
    let (done, sent) = mpsc::channel();
    std::thread::spawn(move || {
        let result = c.send_binary(&big);
        let queued = c.connection().output().len();
        let _ = done.send((result, queued));
    });
    let result = sent.recv_timeout(Duration::from_secs(30));
    let _ = release.send(());
    match result {
        Ok((Err(Error::Timeout), queued)) => {
            assert!(
                queued > 0 && queued < (48 << 20),
                "{queued} bytes still queued"
            );
        }
        Ok((other, _)) => panic!("expected a timeout, got {other:?}"),
        Err(_) => panic!("send still blocked after 30 s with a 200 ms write timeout"),
    }
    server.stop();
}

#[test]
fn close_returns_the_servers_close_when_its_fin_is_late() {
    // The server answers the close but keeps the TCP connection open: the
    // close handshake is complete, and `close` returns it after waiting
    // for the FIN no longer than `close_timeout`.
    let server = Scripted::start(|_, mut s| {
        accept_upgrade(&mut s);
        std::thread::spawn(move || {
            let mut head = [0u8; 8]; // the client's masked close: 1001, no reason
            s.read_exact(&mut head).unwrap();
            s.write_all(&[0x88, 0x02, 0x03, 0xe9]).unwrap();
            drain(s);
        });
    });
    let mut c = Client::connect_with(&format!("ws://{}/", server.addr), &quick_close()).unwrap();
    let (code, reason) = c.close(rfc6455::CloseCode::GOING_AWAY, "").unwrap();
    assert_eq!(
        (code, reason.as_str()),
        (rfc6455::CloseCode::GOING_AWAY, "")
    );
    server.stop();
}

#[test]
fn keepalive_reads_a_pong_that_came_while_the_caller_was_away() {
    // The ping goes out during one `recv` that times out before the pong
    // comes; the pong then waits in the socket while the caller is busy
    // past the keepalive timeout. The next `recv` must find it rather
    // than declare the server dead.
    let server = Scripted::start(|_, mut s| {
        accept_upgrade(&mut s);
        std::thread::spawn(move || {
            let mut ping = [0u8; 6]; // masked, empty
            s.read_exact(&mut ping).unwrap();
            assert_eq!(ping[0], 0x89);
            std::thread::sleep(Duration::from_millis(80));
            s.write_all(&[0x8a, 0x00]).unwrap();
            drain(s);
        });
    });
    let config = ClientConfig {
        read_timeout: Some(Duration::from_millis(60)),
        keepalive: Some(Keepalive {
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(100),
        }),
        ..ClientConfig::default()
    };
    let mut c = Client::connect_with(&format!("ws://{}/", server.addr), &config).unwrap();
    match c.recv() {
        Err(Error::Timeout) => {}
        other => panic!("expected the read timeout before the pong, got {other:?}"),
    }
    std::thread::sleep(Duration::from_secs(1));
    match c.recv() {
        Ok(rfc6455::Event::Pong(b"")) => {}
        other => panic!("expected the waiting pong, got {other:?}"),
    }
    drop(c);
    server.stop();
}

#[test]
fn the_handshake_timeout_bounds_a_request_the_server_reads_slowly() {
    // The server takes the request a little at a time, each read well
    // within the handshake timeout of the last: only a deadline over the
    // whole write stops it (the request takes over a minute to go).
    let server = Scripted::start(|_, mut s| {
        std::thread::spawn(move || {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let give_up = Instant::now() + Duration::from_secs(15);
            let mut chunk = [0u8; 16 << 10];
            while Instant::now() < give_up && matches!(s.read(&mut chunk), Ok(n) if n > 0) {
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    });
    let config = ClientConfig {
        handshake_timeout: Duration::from_millis(500),
        headers: vec![("X-Big".into(), "a".repeat(64 << 20))],
        ..ClientConfig::default()
    };
    let url = format!("ws://{}/", server.addr);
    let (done, connected) = mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let result = Client::connect_with(&url, &config).map(drop);
        let _ = done.send((result, start.elapsed()));
    });
    let Ok((result, took)) = connected.recv_timeout(Duration::from_secs(10)) else {
        panic!("connect still blocked after 10 s with a 500 ms handshake timeout");
    };
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    server.stop();
}

#[test]
fn a_send_that_loses_the_connection_is_reported_by_recv() {
    // The send times out on a server that stopped reading: the message is
    // queued for the next connection, and the loss comes out of the next
    // `recv` as `Disconnected`, with its delay, like any other loss (it
    // used to reconnect at once, saying only `Connected`).
    let (server, release) = stops_reading();
    let config = ReconnectConfig {
        client: ClientConfig {
            write_timeout: Some(Duration::from_millis(200)),
            ..without_keepalive(50, 200, false, Some(1)).client
        },
        ..without_keepalive(50, 200, false, Some(1))
    };
    let mut c = Reconnecting::new(&format!("ws://{}/", server.addr), config);
    let (done, got) = mpsc::channel();
    std::thread::spawn(move || {
        let connected = c.recv().map_err(|e| e.to_string());
        // Far more than loopback's socket buffers take.
        let sent = c.send_text(&"x".repeat(48 << 20));
        let next = c.recv();
        let _ = done.send((connected, sent, next, c.is_connected()));
    });
    let result = got.recv_timeout(Duration::from_secs(20));
    let _ = release.send(());
    let Ok((connected, sent, next, connected_after)) = result else {
        panic!("still blocked after 20 s with a 200 ms write timeout");
    };
    assert!(
        matches!(connected, Ok(Incoming::Connected { reconnected: false })),
        "{connected:?}"
    );
    sent.unwrap();
    match next {
        Ok(Incoming::Disconnected {
            error: Error::Timeout,
            retry_in,
        }) => assert_eq!(retry_in, Duration::from_millis(50)),
        other => panic!("expected the loss, got {other:?}"),
    }
    assert!(!connected_after);
    server.stop();
}

#[test]
fn a_zero_read_timeout_polls() {
    // Zero is a poll, as with `set_read_timeout` (the socket would take it
    // for "forever", and std refuses it: the connect used to fail after
    // the handshake with an I/O error).
    let server = Scripted::start(|_, mut s| {
        accept_upgrade(&mut s);
        std::thread::spawn(move || drain(s));
    });
    let config = ClientConfig {
        read_timeout: Some(Duration::ZERO),
        ..ClientConfig::default()
    };
    let mut c = Client::connect_with(&format!("ws://{}/", server.addr), &config).unwrap();
    let start = Instant::now();
    assert!(matches!(c.recv(), Err(Error::Timeout)));
    assert!(start.elapsed() < Duration::from_secs(2));
    drop(c);
    server.stop();
}

#[test]
fn the_read_timeout_bounds_a_whole_recv_while_a_frame_trickles_in() {
    // A 200-byte text message sent a byte every 20 ms takes 4 s; each
    // byte comes well within the 300 ms read timeout of the one before.
    // Without keepalive the timeout once bounded each socket read only,
    // so `recv` waited for the whole message.
    let server = Scripted::start(|_, mut s| {
        accept_upgrade(&mut s);
        std::thread::spawn(move || {
            let mut frame = vec![0x81, 126, 0, 200];
            frame.extend_from_slice(&[b'x'; 200]);
            for byte in frame {
                if s.write_all(&[byte]).is_err() {
                    return; // the client went away
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            drain(s);
        });
    });
    let config = ClientConfig {
        read_timeout: Some(Duration::from_millis(300)),
        ..ClientConfig::default()
    };
    let mut c = Client::connect_with(&format!("ws://{}/", server.addr), &config).unwrap();
    match c.recv() {
        Err(Error::Timeout) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    drop(c);
    server.stop();
}

/// Runs `c.recv()` on a thread and returns what it gave within `limit`
/// (`None`: still blocked), with `c` back when it did return.
fn recv_within(
    mut c: Reconnecting,
    limit: Duration,
) -> (Option<String>, Option<Reconnecting>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let r = format!("{:?}", c.recv());
        let _ = tx.send((r, c));
    });
    match rx.recv_timeout(limit) {
        Ok((r, c)) => (Some(r), Some(c), waiter),
        Err(_) => (None, None, waiter),
    }
}

/// What the next `recv` of `c` gives within 5 s (`None`: nothing), then
/// the client and the server stopped.
fn last_recv(c: Reconnecting, server: Scripted) -> Option<String> {
    let (got, c, waiter) = recv_within(c, Duration::from_secs(5));
    drop(c);
    server.stop();
    waiter.join().unwrap();
    got
}

#[test]
fn a_read_timeout_set_on_the_client_holds_through_pongs() {
    // Keepalive pongs arrive every 100 ms; the caller set 300 ms on the
    // connection. The first pong once set the configured 20 s back.
    let server = Scripted::start(|_, mut s| {
        accept_upgrade(&mut s);
        std::thread::spawn(move || {
            // Answer each (empty, masked) ping with an empty pong.
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut frame = [0u8; 6];
            while s.read_exact(&mut frame).is_ok() && frame[0] == 0x89 {
                if s.write_all(&[0x8a, 0]).is_err() {
                    return;
                }
            }
        });
    });
    let config = ReconnectConfig {
        client: ClientConfig {
            read_timeout: Some(Duration::from_secs(20)),
            keepalive: Some(Keepalive {
                interval: Duration::from_millis(100),
                timeout: Duration::from_secs(5),
            }),
            ..ClientConfig::default()
        },
        ..ReconnectConfig::default()
    };
    let mut c = Reconnecting::new(&format!("ws://{}/", server.addr), config);
    assert!(matches!(c.recv(), Ok(Incoming::Connected { .. })));
    let client = c.client().unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert_eq!(last_recv(c, server).as_deref(), Some("Err(Timeout)"));
}

#[test]
fn a_read_timeout_set_on_the_client_holds_after_a_reconnect() {
    // The first connection is closed at once; the second stays quiet.
    // The 300 ms the caller set on the first connection once went with
    // it: the new one waited for ever, as configured.
    let server = Scripted::start(|n, mut s| {
        accept_upgrade(&mut s);
        if n > 0 {
            std::thread::spawn(move || drain(s));
        }
    });
    let mut c = Reconnecting::new(
        &format!("ws://{}/", server.addr),
        ReconnectConfig {
            client: ClientConfig {
                read_timeout: None,
                ..ClientConfig::default()
            },
            ..without_keepalive(10, 10, false, None)
        },
    );
    assert!(matches!(c.recv(), Ok(Incoming::Connected { .. })));
    c.client()
        .unwrap()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(matches!(c.recv(), Ok(Incoming::Disconnected { .. })));
    assert!(matches!(
        c.recv(),
        Ok(Incoming::Connected { reconnected: true })
    ));
    assert_eq!(last_recv(c, server).as_deref(), Some("Err(Timeout)"));
}

#[test]
fn a_zero_keepalive_interval_or_timeout_is_refused_before_connecting() {
    // A zero timeout once made recv fail with `Error::Timeout` the moment
    // the first ping went out (with no read timeout set), and a zero
    // interval sent a ping after every read.
    let server = Scripted::start(|_, mut s| {
        accept_upgrade(&mut s);
        std::thread::spawn(move || drain(s));
    });
    let url = format!("ws://{}/", server.addr);
    for (interval, timeout) in [(0, 500), (500, 0)] {
        let keepalive = Keepalive {
            interval: Duration::from_millis(interval),
            timeout: Duration::from_millis(timeout),
        };
        let config = ClientConfig {
            keepalive: Some(keepalive),
            ..ClientConfig::default()
        };
        match Client::connect_with(&url, &config) {
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::InvalidInput => {}
            other => panic!("{keepalive:?}: expected InvalidInput, got {other:?}"),
        }
        // The reconnecting client gives up at once, not after a second
        // attempt 10 s later: retrying cannot help.
        let r = Reconnecting::new(
            &url,
            ReconnectConfig {
                client: config,
                ..without_keepalive(10_000, 10_000, false, Some(2))
            },
        );
        let (got, _, waiter) = recv_within(r, Duration::from_secs(5));
        waiter.join().unwrap();
        let got = got.unwrap_or_default();
        assert!(got.contains("InvalidInput"), "{keepalive:?}: {got}");
    }
    assert_eq!(server.stop(), 0, "nothing was sent");
}

#[test]
fn a_ping_payload_over_125_bytes_is_refused_as_such() {
    // It was reported as `Send(Full)`, "output buffer full", with the
    // buffer empty: a caller would wait to drain a buffer for nothing.
    let server = Scripted::start(deaf);
    let mut c = Client::connect_with(&format!("ws://{}/", server.addr), &quick_close()).unwrap();
    match c.ping(&[0; 126]) {
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::InvalidInput => {
            assert!(e.to_string().contains("125"), "{e}")
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert!(!c.connection().has_output(), "nothing was queued");
    c.ping(&[0; 125]).unwrap();
    drop(c);
    server.stop();
}
