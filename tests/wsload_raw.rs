//! `wsload tcp://...` (raw TCP mode) run as a child process against small
//! TCP echo servers in this process: a faithful one must give a clean run
//! whatever sizes its writes have; one that corrupts or drops the stream
//! must fail it. Every run is bounded in time and every thread is joined.

#![cfg(feature = "server")]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest a wsload run may take before the test kills it and fails.
const RUN_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Writes back what each read brought.
    Faithful,
    /// Writes back in pieces of this many bytes.
    Pieces(usize),
    /// Flips one bit of the byte at this offset of the connection's stream.
    FlipByte(usize),
    /// Ends the connection after echoing this many bytes.
    EndAfter(usize),
}

/// A thread-per-connection TCP echo server on an ephemeral port.
struct TcpEcho {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TcpEcho {
    fn start(behaviour: Behaviour) -> TcpEcho {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut conns = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let s = Arc::clone(&s);
                        conns.push(thread::spawn(move || {
                            let _ = echo(stream, behaviour, &s);
                        }));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => break,
                }
            }
            for c in conns {
                c.join().unwrap();
            }
        });
        TcpEcho {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }
}

impl Drop for TcpEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn echo(mut stream: TcpStream, behaviour: Behaviour, stop: &AtomicBool) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut buf = [0u8; 8192];
    let mut offset = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(()), // the client's end of stream: ours follows
            Ok(n) => n,
            Err(e)
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                    && !stop.load(Ordering::SeqCst) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        let data = &mut buf[..n];
        match behaviour {
            Behaviour::Faithful => stream.write_all(data)?,
            Behaviour::Pieces(size) => {
                for piece in data.chunks(size) {
                    stream.write_all(piece)?;
                }
            }
            Behaviour::FlipByte(at) => {
                if (offset..offset + n).contains(&at) {
                    data[at - offset] ^= 0x01;
                }
                stream.write_all(data)?;
            }
            Behaviour::EndAfter(limit) => {
                let keep = n.min(limit.saturating_sub(offset));
                stream.write_all(&data[..keep])?;
                if keep < n {
                    return Ok(());
                }
            }
        }
        offset += n;
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

/// Runs wsload to completion (killed after `RUN_LIMIT`) and parses its one
/// line of output.
fn wsload(args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsload"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wsload");
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
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
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    println!("wsload {args:?}: {status}\nstdout: {stdout}stderr:\n{stderr}");
    let line = stdout.lines().next().unwrap_or_default();
    let fields = line
        .split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Run {
        success: status.success(),
        fields,
        stderr,
    }
}

#[test]
fn raw_mode_echoes_pipelined_messages_and_splits_the_server_cpu() {
    let server = TcpEcho::start(Behaviour::Faithful);
    // The server runs in this process: its CPU time is ours.
    let pid = std::process::id().to_string();
    let run = wsload(&[
        &server.url(),
        "--conns",
        "10",
        "--size",
        "1KiB",
        "--pipeline",
        "4",
        "--secs",
        "1",
        "--server-pid",
        &pid,
    ]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.get("errors"), "0");
    assert_eq!(run.get("kind"), "tcp");
    assert!(run.number("msgs") > 0.0);
    assert!(run.number("p50_us") <= run.number("p99_us"));
    let total = run.number("server_ns_per_msg");
    let user = run.number("server_user_ns_per_msg");
    let kernel = run.number("server_kernel_ns_per_msg");
    assert!(total > 0.0);
    assert!(user >= 0.0 && kernel >= 0.0);
    assert!(
        (user + kernel - total).abs() <= 2.0,
        "{user} + {kernel} != {total}"
    );
}

#[test]
fn echoes_written_in_small_pieces_are_reassembled() {
    let server = TcpEcho::start(Behaviour::Pieces(7));
    let run = wsload(&[
        &server.url(),
        "--conns",
        "3",
        "--size",
        "5000",
        "--secs",
        "1",
    ]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.get("errors"), "0");
    assert!(run.number("msgs") > 0.0);
}

#[test]
fn one_corrupted_byte_fails_the_run() {
    // Byte 1000 of each connection's stream: message 3 (of 300 bytes), at
    // its byte 100.
    let server = TcpEcho::start(Behaviour::FlipByte(1000));
    let run = wsload(&[
        &server.url(),
        "--conns",
        "2",
        "--size",
        "300",
        "--secs",
        "1",
    ]);
    assert!(!run.success, "a corrupted echo must fail the run");
    assert!(run.number("errors") >= 1.0);
    assert!(
        run.stderr.contains("echo 3 differs at byte 100"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_stream_ended_early_fails_the_run() {
    let server = TcpEcho::start(Behaviour::EndAfter(2000));
    let run = wsload(&[&server.url(), "--conns", "2", "--size", "64", "--secs", "1"]);
    assert!(!run.success);
    assert!(run.number("errors") >= 1.0);
    assert!(run.stderr.contains("ended the stream"), "{}", run.stderr);
}

#[test]
fn idle_raw_connections_are_held_and_closed_cleanly() {
    let server = TcpEcho::start(Behaviour::Faithful);
    let run = wsload(&[&server.url(), "--conns", "50", "--secs", "0.5", "--idle"]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.get("msgs"), "0");
    assert_eq!(run.get("errors"), "0");
}
