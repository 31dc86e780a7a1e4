//! The echo-server binary as a separate process: signals, and memory under a
//! peer that never reads. Every child is killed when its guard drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rfc6455::client::{Client, ClientConfig};
use rfc6455::connection::Event;
use rfc6455::frame::{Frame, OpCode};
use rfc6455::CloseCode;

#[allow(dead_code)]
mod common;

struct ServerProcess {
    child: Child,
    url: String,
    addr: String,
}

impl ServerProcess {
    /// Starts the binary on an ephemeral port and reads where it listens.
    fn start(args: &[&str]) -> ServerProcess {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_echo-server")),
            args,
            Stdio::null(),
        )
    }

    /// The same, under the shell's `ulimit` with `limits` (e.g. `-Sn 256`).
    fn start_under(limits: &str, args: &[&str], stderr: Stdio) -> ServerProcess {
        let mut bash = Command::new("bash");
        bash.args([
            "-c",
            &format!("ulimit {limits} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_echo-server"),
        ]);
        Self::spawn(bash, args, stderr)
    }

    fn spawn(mut command: Command, args: &[&str], stderr: Stdio) -> ServerProcess {
        let mut child = command
            .args(["--listen", "127.0.0.1:0", "--threads", "1", "--log", "warn"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn echo-server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        // "echo-server listening on ws://127.0.0.1:PORT (1 thread)"
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("ws://") || w.starts_with("wss://"))
            .expect("address line")
            .to_owned();
        let addr = url.split_once("://").unwrap().1.to_owned();
        ServerProcess { child, url, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        wait_exit(&mut self.child, limit)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(url: &str) -> Client {
    let config = ClientConfig {
        read_timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    };
    Client::connect_with(&format!("{url}/echo"), &config).expect("connect")
}

#[test]
fn sigterm_sends_1001_and_exits_0() {
    let mut server = ServerProcess::start(&["--close-timeout", "3"]);
    let mut c = client(&server.url);
    c.send_text("before").unwrap();
    assert!(matches!(c.recv().unwrap(), Event::Text("before")));
    server.signal("TERM");
    match c.recv().unwrap() {
        Event::Close { code, .. } => assert_eq!(code, Some(CloseCode::GOING_AWAY)),
        other => panic!("expected close, got {other:?}"),
    }
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn sigint_with_no_connections_exits_0() {
    let mut server = ServerProcess::start(&[]);
    server.signal("INT");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGINT");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_client_that_never_reads_cannot_grow_server_memory() {
    let server = ServerProcess::start(&["--high-water", "1MiB"]);
    let baseline = server.rss_kib();

    // Handshake by hand, then write echo requests and never read.
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    let payload = vec![0x5a; 64 << 10];
    let mut frame = Vec::new();
    Frame::new(OpCode::Binary, &payload)
        .masked([1, 2, 3, 4])
        .encode_to_vec(&mut frame);
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut sent = 0usize;
    let started = Instant::now();
    // Up to 200 MiB, until the server stops taking bytes (the write blocks)
    // or 20 s pass.
    while sent < 200 << 20 && started.elapsed() < Duration::from_secs(20) {
        match s.write(&frame) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let grown = server.rss_kib().saturating_sub(baseline);
    eprintln!(
        "sent {} KiB before the server pushed back; server RSS grew {grown} KiB",
        sent >> 10
    );
    assert!(sent < 200 << 20, "the server kept reading without bound");
    // High water 1 MiB + one read budget + buffers: far below 32 MiB.
    assert!(grown < 32 << 10, "server RSS grew {grown} KiB");

    // Others are still served.
    let mut c = client(&server.url);
    c.send_binary(b"still alive").unwrap();
    assert!(matches!(c.recv().unwrap(), Event::Binary(b"still alive")));
    drop(s);
}

#[test]
fn help_documents_every_option() {
    let out = Command::new(env!("CARGO_BIN_EXE_echo-server"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--threads",
        "--max-connections",
        "--max-frame-size",
        "--max-message-size",
        "--handshake-timeout",
        "--idle-timeout",
        "--ping-interval",
        "--close-timeout",
        "--allow-origin",
        "--subprotocol",
        "--log",
        "--room-echo",
        "--tick",
        "--publish-token",
        "--slow-subscriber",
        "--slow-subscriber-limit",
        "--max-body",
        "--max-topic-len",
        "--max-subscriptions",
        "/topic/NAME",
        "/publish/NAME",
        "/push?topic=NAME&data=TEXT",
        "GET /topics",
        "GET /stats",
        "GET /metrics",
        "GET /rfc6455.js",
        "loopback only",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_echo-server"))
        .arg("--nope")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn tick_publishes_the_time_to_the_clock_topic() {
    let server = ServerProcess::start(&["--tick", "0.05"]);
    let config = ClientConfig {
        read_timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    };
    let url = format!("{}/topic/clock", server.url);
    let mut c = Client::connect_with(&url, &config).expect("connect");
    let mut last = String::new();
    for _ in 0..3 {
        match c.recv().unwrap() {
            Event::Text(t) => {
                // 2026-11-29T13:33:31.123Z
                assert_eq!(t.len(), 24, "{t}");
                assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
                assert!(*t > *last, "{t} after {last}");
                last = t.to_owned();
            }
            other => panic!("{other:?}"),
        }
    }
    // The clock is read-only: a member that sends to it is closed, and the
    // other members hear only the time.
    let mut other = Client::connect_with(&url, &config).expect("connect");
    c.send_text("1999-12-31T23:59:59.999Z").unwrap();
    let code = loop {
        match c.recv() {
            Ok(Event::Close { code, .. }) => break code.map(u16::from),
            Ok(Event::Text(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(code, Some(1008));
    for _ in 0..3 {
        match other.recv().unwrap() {
            Event::Text(t) => assert!(!t.starts_with("1999"), "{t}"),
            e => panic!("{e:?}"),
        }
    }
}

/// The child's exit status, if it exits within `limit`.
fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// wscat as a separate process, killed when the guard drops.
struct Wscat {
    child: Child,
}

impl Wscat {
    fn start(args: &[&str], stdin: Stdio, stdout: Stdio, stderr: Stdio) -> Wscat {
        let child = Command::new(env!("CARGO_BIN_EXE_wscat"))
            .args(args)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("spawn wscat");
        Wscat { child }
    }

    /// Everything the process writes to standard output, until it closes it.
    fn read_stdout(&mut self) -> String {
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    /// Everything the process writes to standard error, until it closes it.
    fn read_stderr(&mut self) -> String {
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        err
    }

    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        wait_exit(&mut self.child, limit)
    }
}

impl Drop for Wscat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn wscat_echoes_stdin_and_exits_0() {
    let server = ServerProcess::start(&[]);
    let url = format!("{}/echo", server.url);
    let mut wscat = Wscat::start(&[&url], Stdio::piped(), Stdio::piped(), Stdio::null());
    let mut stdin = wscat.child.stdin.take().unwrap();
    stdin.write_all(b"hello\nworld\n").unwrap();
    drop(stdin);
    let out = wscat.read_stdout();
    let status = wscat.wait_exit(Duration::from_secs(20)).expect("exits");
    assert_eq!(out, "hello\nworld\n");
    assert!(status.success(), "{status:?}");
}

/// `--flag=value` works as `--flag value`, as it does for echo-server.
#[test]
fn wscat_takes_flag_equals_value() {
    let server = ServerProcess::start(&["--subprotocol", "chat"]);
    let url = format!("{}/echo", server.url);
    let mut wscat = Wscat::start(
        &["--protocol=chat", "--keepalive=30", &url],
        Stdio::piped(),
        Stdio::piped(),
        Stdio::piped(),
    );
    drop(wscat.child.stdin.take());
    let err = wscat.read_stderr();
    let status = wscat.wait_exit(Duration::from_secs(20)).expect("exits");
    assert!(err.contains("(protocol chat)"), "{err}");
    assert!(status.success(), "{status:?} {err}");
}

/// `wscat URL | head -1`: once the reader is gone wscat closes and exits,
/// however long its input stays open and the server keeps sending.
#[test]
fn wscat_exits_when_stdout_is_closed() {
    let server = ServerProcess::start(&["--tick", "0.02"]);
    let url = format!("{}/topic/clock", server.url);
    let mut wscat = Wscat::start(&[&url], Stdio::piped(), Stdio::piped(), Stdio::null());
    let mut out = BufReader::new(wscat.child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.ends_with("Z\n"), "{line}");
    drop(out);
    let status = wscat
        .wait_exit(Duration::from_secs(20))
        .expect("wscat exits once its output is closed");
    assert!(status.success(), "{status:?}");
}

/// `wscat URL 2>&1 | head -1`: a closed stderr loses the notes, not the
/// run (eprintln! panics on it).
#[test]
fn wscat_survives_a_closed_stderr() {
    let server = ServerProcess::start(&[]);
    let url = format!("{}/echo", server.url);
    let mut wscat = Wscat::start(&[&url], Stdio::piped(), Stdio::piped(), Stdio::piped());
    let mut err = BufReader::new(wscat.child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.starts_with("connected to"), "{line}");
    drop(err);
    let mut stdin = wscat.child.stdin.take().unwrap();
    stdin.write_all(b"hello\n").unwrap();
    drop(stdin);
    let out = wscat.read_stdout();
    let status = wscat.wait_exit(Duration::from_secs(20)).expect("exits");
    assert_eq!(out, "hello\n");
    assert!(status.success(), "{status:?}");
}

/// A line that is not UTF-8 cannot be a text message: wscat says so and
/// fails, rather than taking it for the end of input and exiting 0.
#[test]
fn wscat_reports_input_that_is_not_utf8() {
    let server = ServerProcess::start(&[]);
    let url = format!("{}/echo", server.url);
    let mut wscat = Wscat::start(&[&url], Stdio::piped(), Stdio::piped(), Stdio::piped());
    let mut stdin = wscat.child.stdin.take().unwrap();
    stdin.write_all(b"first\nsecond \xff\nthird\n").unwrap();
    drop(stdin);
    let out = wscat.read_stdout();
    let err = wscat.read_stderr();
    let status = wscat.wait_exit(Duration::from_secs(20)).expect("exits");
    assert_eq!(out, "first\n");
    assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
    assert_eq!(status.code(), Some(1), "{err}");
}

/// A second server on a port already served fails with the reason, rather
/// than sharing it through SO_REUSEPORT and taking half the connections.
#[test]
fn listen_on_an_address_in_use_fails() {
    let first = ServerProcess::start(&[]);
    let mut second = Command::new(env!("CARGO_BIN_EXE_echo-server"))
        .args(["--listen", &first.addr, "--threads", "2", "--log", "warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn echo-server");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > Duration::from_secs(10) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = second.kill();
    let _ = second.wait();
    let status = status.expect("the second server exits");
    let mut err = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot listen on {}", first.addr)) && err.contains("in use"),
        "{err}"
    );
}

/// While shutdown waits for clients' closes, a second SIGTERM or SIGINT
/// (a second Ctrl-C) ends the process at once.
#[test]
fn a_second_signal_exits_without_waiting_for_the_close_timeout() {
    let mut server = ServerProcess::start(&["--close-timeout", "300"]);
    // Handshake by hand, so that the server's close is never answered.
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    server.signal("TERM");
    // The close frame (1001) says the shutdown has begun.
    let mut close = [0u8; 4];
    s.read_exact(&mut close).unwrap();
    assert_eq!((close[0], &close[2..]), (0x88, &[0x03, 0xe9][..]));
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("a second SIGTERM ends the wait");
    assert_eq!(status.code(), Some(128 + 15), "{status:?}");
    drop(s);
}

/// An echo-server over TLS with `pki`'s certificate, its files in a
/// directory of their own: (that directory, the CA file's path, the server).
#[cfg(feature = "tls")]
fn tls_server(
    name: &str,
    pki: common::pki::TestPki,
) -> (std::path::PathBuf, String, ServerProcess) {
    let dir = common::pki::temp_dir(name);
    let files = pki.write(&dir);
    let server = ServerProcess::start(&[
        "--tls-cert",
        files.cert.to_str().unwrap(),
        "--tls-key",
        files.key.to_str().unwrap(),
    ]);
    (dir, files.ca.to_str().unwrap().to_owned(), server)
}

/// wss:// to a server whose CA wscat does not trust: refused, with the
/// flag that fixes it named; with that flag, it works.
#[cfg(feature = "tls")]
#[test]
fn wscat_names_cafile_for_a_certificate_it_does_not_trust() {
    let (dir, ca, server) = tls_server("wscat-cafile", common::pki::TestPki::localhost());
    let ca = ca.as_str();
    let url = format!("{}/echo", server.url);
    assert!(url.starts_with("wss://"), "{url}");

    let mut wscat = Wscat::start(&[&url], Stdio::null(), Stdio::null(), Stdio::piped());
    let err = wscat.read_stderr();
    let status = wscat.wait_exit(Duration::from_secs(20)).expect("exits");
    assert_eq!(status.code(), Some(100), "{err}");
    assert!(err.contains("--cafile"), "{err}");

    let mut wscat = Wscat::start(
        &["--cafile", ca, &url],
        Stdio::piped(),
        Stdio::piped(),
        Stdio::null(),
    );
    wscat
        .child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello\n")
        .unwrap();
    let out = wscat.read_stdout();
    let status = wscat.wait_exit(Duration::from_secs(20)).expect("exits");
    assert_eq!(out, "hello\n");
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A self-signed certificate made as `openssl req -x509` makes one (CA:TRUE)
/// is refused by rustls as a server's certificate even when it is the
/// --cafile (CaUsedAsEndEntity): wscat says why and how to make one that
/// works, instead of sending the user back to --cafile.
#[cfg(feature = "tls")]
#[test]
fn wscat_explains_a_self_signed_ca_certificate() {
    let (dir, ca, server) = tls_server(
        "wscat-self-signed-ca",
        common::pki::TestPki::self_signed_ca_localhost(),
    );
    let ca = ca.as_str();
    let url = format!("{}/echo", server.url);
    let mut wscat = Wscat::start(
        &["--cafile", ca, &url],
        Stdio::null(),
        Stdio::null(),
        Stdio::piped(),
    );
    let err = wscat.read_stderr();
    let status = wscat.wait_exit(Duration::from_secs(20)).expect("exits");
    assert_eq!(status.code(), Some(100), "{err}");
    assert!(err.contains("CaUsedAsEndEntity"), "{err}");
    assert!(err.contains("basicConstraints=critical,CA:FALSE"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// `echo-server 2>&1 | head`: once the log's reader is gone, log lines are
/// lost, but the thread that writes one goes on (eprintln! panics on the
/// closed pipe: the signal thread died before it could shut down).
#[test]
fn a_closed_log_pipe_does_not_stop_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_echo-server"))
        .args(["--listen", "127.0.0.1:0", "--threads", "1", "--log", "info"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn echo-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening"), "{line}");
    drop(child.stderr.take());
    let mut server = ServerProcess {
        child,
        url: String::new(),
        addr: String::new(),
    };
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
}

/// Every default wscat --help states is the one the code uses.
#[test]
fn wscat_help_states_the_real_defaults() {
    use rfc6455::client::Keepalive;
    use rfc6455::reconnect::Backoff;
    let out = Command::new(env!("CARGO_BIN_EXE_wscat"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let line = |flag: &str| {
        help.lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("--help lacks {flag}"))
            .to_owned()
    };
    let backoff = Backoff::default();
    let initial = format!("(default {})", backoff.initial.as_secs());
    let max = format!("(default {})", backoff.max.as_secs());
    assert!(line("--backoff-initial").contains(&initial), "{help}");
    assert!(line("--backoff-max").contains(&max), "{help}");
    let keepalive = format!("keepalive {} s", Keepalive::default().interval.as_secs());
    assert!(help.contains(&keepalive), "{help}");
}

/// RUST_LOG set to what --log would refuse (env_logger's `target=level`)
/// is said to be ignored, not ignored without a word.
#[test]
fn an_unusable_rust_log_is_reported() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_echo-server"))
        .args(["--listen", "127.0.0.1:0", "--threads", "1"])
        .env("RUST_LOG", "rfc6455=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn echo-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut server = ServerProcess {
        child,
        url: String::new(),
        addr: String::new(),
    };
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    BufReader::new(stderr).read_to_string(&mut err).unwrap();
    assert!(err.contains("RUST_LOG=rfc6455=debug"), "{err}");
}

/// The soft and hard limits on open files of process `pid`.
fn open_file_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    let mut numbers = line
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok());
    (numbers.next().unwrap(), numbers.next().unwrap())
}

#[test]
fn the_open_file_limit_is_raised_for_max_connections() {
    let (_, hard) = open_file_limits(std::process::id());
    assert!(
        hard >= 1024,
        "this test needs a hard limit of 1024 files, not {hard}"
    );
    // A soft limit of 256, as low as some systems start processes with:
    // without the raise, accepts would fail past about 250 connections.
    let server =
        ServerProcess::start_under("-Sn 256", &["--max-connections", "600"], Stdio::null());
    let (soft, _) = open_file_limits(server.pid());
    assert_eq!(
        soft,
        600 + 64 + 4,
        "raised to what --max-connections 600 needs"
    );
    let held: Vec<TcpStream> = (0..400)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    let mut last = TcpStream::connect(&server.addr).unwrap();
    last.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    last.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    last.read_to_string(&mut response)
        .expect("answered past 256 open files");
    let connections: u64 = response
        .split("\"connections\":")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{response}"));
    assert!(
        connections >= 401,
        "{connections} connections in {response}"
    );
    drop(held);
}

#[test]
fn a_hard_limit_below_max_connections_is_reported() {
    let mut server =
        ServerProcess::start_under("-n 300", &["--max-connections", "1000"], Stdio::piped());
    let (soft, hard) = open_file_limits(server.pid());
    assert_eq!(
        (soft, hard),
        (300, 300),
        "raised to the hard limit, not past it"
    );
    let _ = server.child.kill();
    let mut log = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("--max-connections 1000 needs about 1068 open files")
            && log.contains("allows 300"),
        "{log}"
    );
}
