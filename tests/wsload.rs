//! `wsload` run as a child process over loopback: against our echo server
//! (in-process, one worker, stopped at the end) it must report zero errors
//! and a non-zero rate; against deliberately broken servers it must fail.
//! Every run is bounded in time and every server thread is joined.

#![cfg(feature = "server")]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rfc6455::connection::{Config, Connection, Event, MessageKind};
use rfc6455::frame::Status;
use rfc6455::handshake::{Accept, Opening, RequestParser};
use rfc6455::server::{Echo, Server, ServerConfig, ServerHandle};
use rfc6455::Limits;

/// Longest a wsload run may take before the test kills it and fails.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Our echo server on an ephemeral port, one worker thread.
struct EchoServer {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl EchoServer {
    fn start() -> EchoServer {
        let server = Server::bind(ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            threads: 1,
            close_timeout: Duration::from_secs(2),
            ..ServerConfig::default()
        })
        .expect("bind");
        let addr = server.local_addr();
        let handle = server.handle();
        let thread = thread::spawn(move || server.run(|| Echo));
        EchoServer {
            addr,
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let result = t.join().expect("server thread");
            if !thread::panicking() {
                result.expect("server result");
            }
        }
    }
}

struct Run {
    success: bool,
    fields: HashMap<String, String>,
    stderr: String,
}

impl Run {
    fn get(&self, key: &str) -> &str {
        self.fields
            .get(key)
            .unwrap_or_else(|| panic!("no {key}= in the result line; stderr:\n{}", self.stderr))
    }

    fn number(&self, key: &str) -> f64 {
        self.get(key)
            .parse()
            .unwrap_or_else(|_| panic!("{key}={} is not a number", self.get(key)))
    }
}

/// Runs wsload to completion (killing it after `RUN_LIMIT`) and parses its
/// one line of output.
fn wsload(args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsload"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wsload");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wsload {args:?} ran longer than {RUN_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    // Shown by the test harness only when a test fails.
    println!("wsload {args:?}: {status}\nstdout: {stdout}stderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "one line expected; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let fields = lines[0]
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    Run {
        success: status.success(),
        fields,
        stderr,
    }
}

fn assert_clean(run: &Run) {
    assert!(run.success, "wsload failed:\n{}", run.stderr);
    assert_eq!(run.get("errors"), "0");
    assert!(run.number("msgs") > 0.0);
    assert!(run.number("rate") > 0.0);
    let (p50, p99) = (run.number("p50_us"), run.number("p99_us"));
    assert!(p50 > 0.0 && p50 <= p99, "p50 {p50} p99 {p99}");
    assert!(run.number("p999_us") <= run.number("max_us"));
}

#[test]
fn echo_server_depth_one_binary() {
    let server = EchoServer::start();
    let url = format!("ws://{}/", server.addr);
    // The server runs in this process: its CPU time is ours.
    let pid = std::process::id().to_string();
    let run = wsload(&[
        &url,
        "--conns",
        "10",
        "--size",
        "20",
        "--secs",
        "2",
        "--server-pid",
        &pid,
    ]);
    assert_clean(&run);
    assert!(run.number("server_cpu") > 0.0);
    assert!(run.number("server_ns_per_msg") > 0.0);
    assert_eq!(run.get("conns"), "10");
    assert_eq!(run.get("size"), "20");
    assert_eq!(run.get("secs"), "2.00");
    assert_eq!(run.get("pipeline"), "1");
    assert_eq!(run.get("kind"), "binary");
    // msgs counts the window exactly: rate is msgs over its length.
    assert!((run.number("rate") - run.number("msgs") / 2.0).abs() <= 1.0);
}

#[test]
fn echo_server_pipelined_text_on_two_threads() {
    let server = EchoServer::start();
    let url = format!("ws://{}/chat", server.addr);
    let run = wsload(&[
        &url,
        "--conns",
        "5",
        "--size",
        "1KiB",
        "--secs",
        "2",
        "--pipeline",
        "8",
        "--text",
        "--threads",
        "2",
        "--warmup",
        "0.2",
    ]);
    assert_clean(&run);
    assert_eq!(run.get("kind"), "text");
    assert_eq!(run.get("pipeline"), "8");
    assert_eq!(run.get("size"), "1024");
    assert_eq!(run.get("threads"), "2");
}

#[cfg(feature = "deflate")]
#[test]
fn deflate_with_json_payload_compresses_the_echoes() {
    // Our server answers permessage-deflate offers by default.
    let server = EchoServer::start();
    let url = format!("ws://{}/", server.addr);
    let run = wsload(&[
        &url,
        "--conns",
        "4",
        "--size",
        "16KiB",
        "--secs",
        "1",
        "--pipeline",
        "2",
        "--deflate",
        "--payload",
        "json",
    ]);
    assert_clean(&run);
    assert_eq!(run.get("kind"), "text");
    assert_eq!(run.get("deflate"), "on");
    // JSON-like records compress to well under half; a frame header per
    // echo at least.
    let wire = run.number("wire_in_per_msg");
    assert!(wire > 8.0 && wire < 8192.0, "{wire} bytes per 16 KiB echo");
}

#[cfg(feature = "deflate")]
#[test]
fn deflate_declined_by_the_server_fails_the_run() {
    // The broken server's handshake ignores the extension offer.
    let server = BrokenServer::start(Misbehaviour::DropAfter(1_000_000));
    let url = format!("ws://{}/", server.addr);
    let run = wsload(&[&url, "--conns", "2", "--secs", "1", "--deflate"]);
    assert!(!run.success, "a declined offer must fail the run");
    assert!(
        run.stderr.contains("declined permessage-deflate"),
        "{}",
        run.stderr
    );
}

#[test]
fn idle_connections_are_held_and_closed_cleanly() {
    let server = EchoServer::start();
    let url = format!("ws://{}/", server.addr);
    let run = wsload(&[&url, "--conns", "200", "--secs", "1", "--idle"]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.get("kind"), "idle");
    assert_eq!(run.get("msgs"), "0");
    assert_eq!(run.get("errors"), "0");
}

#[test]
fn one_corrupted_byte_fails_the_run() {
    // The 100th echo of the run comes back with one bit flipped.
    let server = BrokenServer::start(Misbehaviour::FlipByteOfEcho(100));
    let url = format!("ws://{}/", server.addr);
    let run = wsload(&[&url, "--conns", "2", "--size", "64", "--secs", "1"]);
    assert!(!run.success, "a corrupted echo must fail the run");
    assert!(run.number("errors") >= 1.0);
    assert!(run.stderr.contains("differs at byte 32"), "{}", run.stderr);
    assert!(server.echoed() > 100, "the other connection went on");
}

#[test]
fn a_dropped_connection_fails_the_run() {
    // After 50 echoes the server drops that connection without a close.
    let server = BrokenServer::start(Misbehaviour::DropAfter(50));
    let url = format!("ws://{}/", server.addr);
    let run = wsload(&[&url, "--conns", "3", "--secs", "1", "--pipeline", "4"]);
    assert!(!run.success);
    assert!(run.number("errors") >= 1.0);
    assert!(
        run.stderr.contains("ended the stream") || run.stderr.contains("read:"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_refused_connection_fails_fast() {
    // A port nobody listens on any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}/");
    let started = Instant::now();
    let run = wsload(&[&url, "--conns", "4", "--secs", "30"]);
    assert!(!run.success);
    assert_eq!(run.get("msgs"), "0");
    assert!(run.number("errors") >= 1.0);
    assert!(run.stderr.contains("connect"), "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no measuring after a failure"
    );
}

#[test]
fn help_mentions_pinning() {
    let output = Command::new(env!("CARGO_BIN_EXE_wsload"))
        .arg("--help")
        .output()
        .expect("run wsload --help");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("taskset -c 0"), "{help}");
    assert!(help.contains("--pipeline"));
}

#[derive(Debug, Clone, Copy)]
enum Misbehaviour {
    /// Flip the middle byte of the n-th echo of the run (counted from 1).
    FlipByteOfEcho(usize),
    /// Drop the connection, without a close frame, after the run's n-th
    /// echo.
    DropAfter(usize),
}

/// A blocking echo server on rfc6455's handshake and connection, a thread
/// per connection, that misbehaves as told.
struct BrokenServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    echoed: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl BrokenServer {
    fn start(misbehaviour: Misbehaviour) -> BrokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let echoed = Arc::new(AtomicUsize::new(0));
        let (s, e) = (Arc::clone(&stop), Arc::clone(&echoed));
        let thread = thread::spawn(move || {
            let mut conns = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (s, e) = (Arc::clone(&s), Arc::clone(&e));
                        conns.push(thread::spawn(move || {
                            let _ = serve(stream, misbehaviour, &s, &e);
                        }));
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => break,
                }
            }
            for c in conns {
                c.join().unwrap();
            }
        });
        BrokenServer {
            addr,
            stop,
            echoed,
            thread: Some(thread),
        }
    }

    fn echoed(&self) -> usize {
        self.echoed.load(Ordering::SeqCst)
    }
}

impl Drop for BrokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// Serves one connection until the peer leaves, the misbehaviour ends it,
/// or the server stops.
fn serve(
    mut stream: TcpStream,
    misbehaviour: Misbehaviour,
    stop: &AtomicBool,
    echoed: &AtomicUsize,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let would_block =
        |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);

    let mut parser = RequestParser::new(&Limits::default());
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    let consumed = loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if would_block(&e) && !stop.load(Ordering::SeqCst) => continue,
            Err(e) => return Err(e),
        }
        match parser.parse(&head) {
            Ok(Status::Incomplete(_)) => {}
            Ok(Status::Complete(Opening::WebSocket(ws))) => {
                let mut out = Vec::new();
                ws.accept(&Accept::new(), &mut out).unwrap();
                stream.write_all(&out)?;
                break ws.consumed();
            }
            _ => return Ok(()),
        }
    };

    let mut conn = Connection::server(Config::default());
    conn.receive(&head[consumed..], Duration::ZERO);
    loop {
        let mut drop_now = false;
        loop {
            let echoed_one = conn.next_event_with(|event, tx| {
                let (kind, data) = match event {
                    Event::Binary(b) => (MessageKind::Binary, b),
                    Event::Text(t) => (MessageKind::Text, t.as_bytes()),
                    _ => return,
                };
                let n = echoed.fetch_add(1, Ordering::SeqCst) + 1;
                match misbehaviour {
                    Misbehaviour::FlipByteOfEcho(at) if n == at && !data.is_empty() => {
                        let mut bad = data.to_vec();
                        bad[data.len() / 2] ^= 0x01; // printable ASCII stays valid
                        tx.send_message(kind, &bad).unwrap();
                    }
                    Misbehaviour::DropAfter(after) if n >= after => drop_now = true,
                    _ => tx.send_message(kind, data).unwrap(),
                }
            });
            match echoed_one {
                Ok(Some(())) => {}
                Ok(None) => break,
                Err(_) => break,
            }
        }
        if drop_now {
            return Ok(()); // the stream is dropped: FIN, or RST with unread data
        }
        while conn.has_output() {
            let n = {
                let out = conn.output();
                stream.write_all(out)?;
                out.len()
            };
            conn.consume_output(n);
        }
        if conn.should_close_transport() {
            return Ok(());
        }
        match stream.read(conn.read_buf()) {
            Ok(0) => return Ok(()),
            Ok(n) => conn.commit_read(n, Duration::ZERO),
            Err(e) if would_block(&e) && !stop.load(Ordering::SeqCst) => {}
            Err(e) => return Err(e),
        }
    }
}
