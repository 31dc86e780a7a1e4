//! `wsload` run as a child process over loopback: against our echo server
//! (in-process, one worker, stopped at the end) it must report zero errors
//! and a non-zero rate; against deliberately broken servers it must fail.
//! The fan-out mode runs against a small pub/sub server defined here, which
//! can also lose, reorder or echo a message on purpose. Every run is
//! bounded in time and every server thread is joined. With the `tls`
//! feature the echo, handshake (`--churn`) and fan-out modes also run over
//! `wss://` against our server with a certificate made at run time.

#![cfg(feature = "server")]

#[cfg(feature = "tls")]
mod common;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rfc6455::connection::{Config, Connection, Event, MessageKind};
use rfc6455::frame::{Frame, Status};
use rfc6455::handshake::{Accept, Opening, RequestParser};
use rfc6455::server::app::{App, AppConfig};
use rfc6455::server::{Echo, Handler, Server, ServerConfig, ServerHandle};
use rfc6455::{Limits, OpCode};

/// Longest a wsload run may take before the test kills it and fails.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Our server on an ephemeral port, with the echo handler (one worker) or
/// the bundled application (rooms on /topic/NAME).
struct EchoServer {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl EchoServer {
    fn start() -> EchoServer {
        EchoServer::run(1, || Echo)
    }

    fn run<H: Handler + 'static>(
        threads: usize,
        handler: impl Fn() -> H + Send + Sync + 'static,
    ) -> EchoServer {
        EchoServer::run_with(threads, |_| {}, handler)
    }

    /// The same over TLS, with a new CA and a certificate for `names`;
    /// also gives the files (the CA for `--cafile`).
    #[cfg(feature = "tls")]
    fn run_tls<H: Handler + 'static>(
        threads: usize,
        names: &[&str],
        handler: impl Fn() -> H + Send + Sync + 'static,
    ) -> (EchoServer, common::pki::PkiFiles) {
        use common::pki::{temp_dir, TestPki};
        let files = TestPki::new("wsload test CA", names).write(&temp_dir("wsload-tls"));
        let tls = rfc6455::server::tls::ServerTls::from_pem_files(&files.cert, &files.key)
            .expect("certificate");
        let server = EchoServer::run_with(threads, |c| c.tls = Some(tls), handler);
        (server, files)
    }

    fn run_with<H: Handler + 'static>(
        threads: usize,
        configure: impl FnOnce(&mut ServerConfig),
        handler: impl Fn() -> H + Send + Sync + 'static,
    ) -> EchoServer {
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            threads,
            close_timeout: Duration::from_secs(2),
            ..ServerConfig::default()
        };
        configure(&mut config);
        let server = Server::bind(config).expect("bind");
        let addr = server.local_addr();
        let handle = server.handle();
        let thread = thread::spawn(move || server.run(handler));
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
    wsload_from(Command::new(env!("CARGO_BIN_EXE_wsload")), args)
}

/// The same, started by `command` (a shell that sets limits first, say).
fn wsload_from(mut command: Command, args: &[&str]) -> Run {
    let mut child = command
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
fn churn_counts_handshakes_and_closes() {
    let server = EchoServer::run(2, || Echo);
    let url = format!("ws://{}/", server.addr);
    let pid = std::process::id().to_string();
    let run = wsload(&[
        &url,
        "--churn",
        "--conns",
        "8",
        "--threads",
        "2",
        "--secs",
        "0.5",
        "--server-pid",
        &pid,
    ]);
    assert_clean(&run);
    assert_eq!(run.get("kind"), "handshakes");
    // Every connection opened, closed and opened again: more handshakes
    // than connections.
    assert!(run.number("msgs") > 8.0, "{}", run.get("msgs"));
    assert!(run.number("server_ns_per_msg") > 0.0);
}

#[cfg(feature = "tls")]
#[test]
fn wss_echo_and_churn_with_cafile() {
    let (server, files) = EchoServer::run_tls(1, &["localhost"], || Echo);
    let url = format!("wss://localhost:{}/", server.addr.port());
    let ca = files.ca.to_str().unwrap();
    let run = wsload(&[
        &url,
        "--cafile",
        ca,
        "--conns",
        "6",
        "--pipeline",
        "4",
        "--size",
        "20KiB",
        "--secs",
        "0.5",
    ]);
    assert_clean(&run);
    assert_eq!(run.get("kind"), "binary");
    let run = wsload(&[
        &url, "--cafile", ca, "--conns", "6", "--idle", "--secs", "0.3",
    ]);
    assert!(run.success, "wsload failed:\n{}", run.stderr);
    assert_eq!((run.get("kind"), run.get("errors")), ("idle", "0"));
    let run = wsload(&[
        &url, "--cafile", ca, "--churn", "--conns", "4", "--secs", "0.5",
    ]);
    assert_clean(&run);
    assert_eq!(run.get("kind"), "handshakes");
    assert!(run.number("msgs") > 4.0, "{}", run.get("msgs"));
}

#[cfg(feature = "tls")]
#[test]
fn wss_refuses_a_server_it_cannot_verify() {
    let (server, _files) = EchoServer::run_tls(1, &["localhost"], || Echo);
    // Mozilla's roots do not know the test CA.
    let url = format!("wss://localhost:{}/", server.addr.port());
    let run = wsload(&[&url, "--conns", "2", "--secs", "30"]);
    assert!(!run.success);
    assert_eq!(run.get("msgs"), "0");
    assert!(run.number("errors") >= 1.0);
    assert!(run.stderr.contains("certificate"), "{}", run.stderr);
    // Nor, with the CA, a certificate for another name (this one is for
    // localhost, not 127.0.0.1).
    let (server, files) = EchoServer::run_tls(1, &["localhost"], || Echo);
    let url = format!("wss://127.0.0.1:{}/", server.addr.port());
    let ca = files.ca.to_str().unwrap();
    let run = wsload(&[&url, "--cafile", ca, "--churn", "--secs", "0.5"]);
    assert!(!run.success);
    assert!(run.number("errors") >= 1.0);
    assert!(run.stderr.contains("certificate"), "{}", run.stderr);
}

#[cfg(feature = "tls")]
#[test]
fn fanout_over_wss_through_our_rooms() {
    let config = Arc::new(AppConfig::default());
    let (server, files) =
        EchoServer::run_tls(2, &["localhost"], move || App::new(Arc::clone(&config)));
    let url = format!("wss://localhost:{}/topic/room", server.addr.port());
    let run = wsload(&[
        &url,
        "--cafile",
        files.ca.to_str().unwrap(),
        "--subscribers",
        "30",
        "--publishers",
        "2",
        "--threads",
        "2",
        "--size",
        "256",
        "--secs",
        "0.5",
    ]);
    assert!(run.success, "wsload failed:\n{}", run.stderr);
    for zero in ["lost", "reordered", "lossy_subs", "errors"] {
        assert_eq!(run.get(zero), "0", "{zero}");
    }
    let (published, msgs) = (run.number("published"), run.number("msgs"));
    assert!(published > 0.0, "{published}");
    // 31 receivers per message, within the window slack (`within_slack`).
    within_slack(msgs, published, 31.0, 2.0 * 16.0);
}

/// Checks a fan-out run's deliveries against its publications: each of
/// `published` messages reaches `receivers`, give or take the messages
/// in flight at the window's edges, at most `in_flight` (the publishers'
/// windows together). wsload counts a publication by the publisher's clock
/// and a delivery by the receiver's, read before the read that brings it:
/// a message sent inside the window can arrive after its end (at most
/// `in_flight`), or be taken by a read whose clock was read before the
/// window's start or end (at most `in_flight` again, the most the
/// publishers can send ahead of a receiver that is reading), and a busy
/// machine makes those edges wide.
fn within_slack(msgs: f64, published: f64, receivers: f64, in_flight: f64) {
    assert!(
        msgs <= receivers * (published + in_flight),
        "{msgs} deliveries of {published}"
    );
    assert!(
        msgs >= receivers * (published - 2.0 * in_flight),
        "{msgs} deliveries of {published}"
    );
}

/// What the benchmark scripts record in a run's errors column for wsload's
/// exit status and line (`run_errors` in scripts/core-state.sh).
fn run_errors(status: &str, line: &str) -> String {
    let out = Command::new("bash")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "-c",
            ". scripts/core-state.sh && run_errors \"$1\" \"$2\"",
            "-",
        ])
        .args([status, line])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn bench_scripts_keep_a_run_that_exited_1_out_of_the_figures() {
    // A fan-out run that lost messages exits 1 with errors=0: the reports
    // take only runs whose errors column is 0 into their medians.
    let lost = "mode=fanout subscribers=50 published=0 msgs=0 rate=0 lost=608 reordered=0 \
                lossy_subs=38 server_ns_per_msg=0 errors=0";
    assert_ne!(run_errors("1", lost), "0");
    assert_eq!(run_errors("0", "conns=1 rate=5 errors=0"), "0");
    assert_eq!(run_errors("1", "conns=1 rate=5 errors=3"), "3");
    assert_eq!(run_errors("124", ""), "all");
}

/// Runs `scripts/SCRIPT` with python3 on a fresh directory that `fill`
/// writes its input into; returns the script's output and the contents of
/// `read_back` in that directory. `None` without python3 (the test then
/// proves nothing here; CI has python3).
fn report_script(
    script: &str,
    fill: impl FnOnce(&std::path::Path),
    read_back: &str,
) -> Option<(std::process::Output, String)> {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("no python3: skipped");
        return None;
    }
    // One directory per call: tests of the same script run in parallel.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("wsload-{script}-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    fill(&dir);
    let out = Command::new("python3")
        .arg(format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR")))
        .arg(&dir)
        .output()
        .expect("run the script");
    let back = std::fs::read_to_string(dir.join(read_back)).unwrap_or_default();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out, back))
}

#[test]
fn echo_report_leaves_out_a_run_whose_core_state_changed() {
    // A run recorded as near before bench-echo told the core state apart,
    // appended to a directory that does (rtt_core in machine.tsv): its
    // round trip went from one physical core (60 ns) to near (160 ns)
    // during the run, so it is mixed and no median may use it.
    let machine = "reps\t1\nrtt_split\t250\nrtt_core\t90\nsecs\t3\nwarmup\t1\n";
    let head = "server\tconns\tsize\tpipeline\tround\tkind\trate\tp50_us\tp99_us\tcpu\t\
                machine_busy\tserver_cpu\tserver_ns_per_msg\tuser_ns_per_msg\tkernel_ns_per_msg\t\
                syscalls_per_msg\trtt_before_ns\trtt_after_ns\tstate\trss_kib\thwm_kib\terrors";
    let run = |server: &str, ns: u32, rtt0: u32, rtt1: u32| {
        format!(
            "{server}\t100\t20\t1\t1\trun\t1000\t50\t90\t0.9\t1.8\t0.8\t{ns}\t100\t{}\t-\t\
             {rtt0}\t{rtt1}\tnear\t1000\t1000\t0",
            ns - 100
        )
    };
    let runs = [
        head.to_owned(),
        run("ours", 1000, 150, 160),
        run("ours", 5000, 60, 160),
        run("peer", 2000, 150, 160),
    ];
    let fill = |dir: &std::path::Path| {
        std::fs::write(dir.join("machine.tsv"), machine).unwrap();
        std::fs::write(dir.join("echo-runs.tsv"), runs.join("\n") + "\n").unwrap();
    };
    let Some((_, report)) = report_script("bench_report.py", fill, "echo.md") else {
        return;
    };
    assert!(
        report.contains("| 100 × 20 B | near | 1,000 [1] | 2,000 [1] | 2.00× |"),
        "{report}"
    );
}

#[test]
fn fanout_report_compares_servers_in_one_core_state() {
    // Three runs of each server with the two vCPUs on one physical core
    // (about 65 ns), and one run of ours that found them far apart (330
    // ns) and one of bun whose state changed during the run: neither may
    // enter a median, or the ratio mixes states.
    let head =
        "server\tsubscribers\tsize\tpublish_rate\trep\twindow\tpublished\tmsgs\tmsgs_per_s\t\
                p50_us\tp99_us\tmax_us\tlost\treordered\tlossy_subs\tcpu\tcpu_max\tserver_cpu\t\
                server_ns_per_msg\tserver_user\tserver_sys\trss_kib\thwm_kib\tothers_cpu\terrors\t\
                rtt_before_ns\trtt_after_ns";
    let run = |server: &str, ns: u32, rtt0: u32, rtt1: u32| {
        format!(
            "{server}\t10000\t64\tmax\t1\t16\t1000\t10000000\t2000000\t30000\t70000\t90000\t\
             0\t0\t0\t0.9\t0.9\t0.9\t{ns}\t0.1\t0.8\t16000\t16000\t0.01\t0\t{rtt0}\t{rtt1}"
        )
    };
    let runs = [
        head.to_owned(),
        run("ours", 500, 65, 66),
        run("ours", 510, 64, 68),
        run("ours", 520, 66, 65),
        run("ours", 900, 330, 340),
        run("bun", 1000, 65, 67),
        run("bun", 1010, 66, 64),
        run("bun", 1020, 63, 66),
        run("bun", 100, 65, 330),
    ];
    let fill = |dir: &std::path::Path| {
        std::fs::write(dir.join("fanout-machine.tsv"), "reps\t4\nsecs\t5\n").unwrap();
        std::fs::write(dir.join("fanout-runs.tsv"), runs.join("\n") + "\n").unwrap();
    };
    let Some((_, report)) = report_script("bench_fanout_report.py", fill, "fanout.md") else {
        return;
    };
    assert!(
        report.contains(
            "| 10,000 subs × 64 B, as fast as possible | 510 (500–520) | 1,010 (1,000–1,020) | 0.50× |"
        ),
        "{report}"
    );
    assert!(
        report.contains(
            "| 10,000 subs × 64 B, as fast as possible | core | 66 (64–68) | 66 (63–67) | 1, 1 |"
        ),
        "{report}"
    );
}

#[test]
fn pooled_report_leaves_out_failed_runs() {
    // bench_pool.py pools the runs of several bench-echo calls; a run
    // whose wsload reported errors is no measurement.
    let runs = [
        "server\tconns\tsize\tpipeline\tkind\tstate\tserver_ns_per_msg\tuser_ns_per_msg\t\
         kernel_ns_per_msg\terrors",
        "ours\t100\t20\t1\trun\tcore\t1000\t100\t900\t0",
        "ours\t100\t20\t1\trun\tcore\t9000\t900\t8100\t3",
        "peer\t100\t20\t1\trun\tcore\t2000\t200\t1800\t0",
    ];
    let Some(text) = pooled(&runs, None) else {
        return;
    };
    assert!(text.contains(POOLED_FIRST_RUNS), "{text}");
}

/// The pooled row when only the first run of ours and the peer's count.
const POOLED_FIRST_RUNS: &str =
    "| 100 × 20 B | 1,000 [1] (100 / 900) | 2,000 [1] (200 / 1,800) | 0.500 (peer) |";

/// bench_pool.py's output over `runs` (and a `machine.tsv`); `None` when
/// python is missing.
fn pooled(runs: &[&str], machine: Option<&str>) -> Option<String> {
    let fill = |dir: &std::path::Path| {
        if let Some(machine) = machine {
            std::fs::write(dir.join("machine.tsv"), machine).unwrap();
        }
        std::fs::write(dir.join("echo-runs.tsv"), runs.join("\n") + "\n").unwrap();
    };
    let (out, _) = report_script("bench_pool.py", fill, "echo-runs.tsv")?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn pooled_report_reads_the_states_as_the_echo_report_does() {
    // Runs recorded as near before bench-echo told the core state apart,
    // in a directory that now does (rtt_core in machine.tsv): the echo
    // report counts the first as core and the second as mixed, and a pool
    // of core runs must take the first and leave the second out.
    let runs = [
        "server\tconns\tsize\tpipeline\tkind\tstate\tserver_ns_per_msg\tuser_ns_per_msg\t\
         kernel_ns_per_msg\trtt_before_ns\trtt_after_ns\terrors",
        "ours\t100\t20\t1\trun\tnear\t1000\t100\t900\t60\t65\t0",
        "ours\t100\t20\t1\trun\tnear\t9000\t900\t8100\t60\t160\t0",
        "peer\t100\t20\t1\trun\tcore\t2000\t200\t1800\t60\t65\t0",
    ];
    let Some(text) = pooled(&runs, Some("rtt_split\t250\nrtt_core\t90\n")) else {
        return;
    };
    assert!(text.contains(POOLED_FIRST_RUNS), "{text}");
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

#[test]
fn fanout_every_receiver_gets_every_message_in_order() {
    let server = PubSubServer::start(Fault::None);
    let url = format!("ws://{}/topic/news", server.addr);
    let pid = std::process::id().to_string();
    let run = wsload(&[
        &url,
        "--subscribers",
        "40",
        "--publishers",
        "2",
        "--threads",
        "2",
        "--size",
        "64",
        "--window",
        "8",
        "--secs",
        "1",
        "--server-pid",
        &pid,
    ]);
    assert!(run.success, "wsload failed:\n{}", run.stderr);
    assert_eq!(run.get("mode"), "fanout");
    assert_eq!(run.get("subscribers"), "40");
    assert_eq!(run.get("publishers"), "2");
    assert_eq!(run.get("publish_rate"), "max");
    for zero in ["lost", "reordered", "lossy_subs", "errors"] {
        assert_eq!(run.get(zero), "0", "{zero}");
    }
    let (published, msgs) = (run.number("published"), run.number("msgs"));
    assert!(published > 0.0 && msgs > 0.0);
    // 41 receivers per message, within the window slack (`within_slack`).
    within_slack(msgs, published, 41.0, 2.0 * 8.0);
    let (p50, p99) = (run.number("p50_us"), run.number("p99_us"));
    assert!(p50 > 0.0 && p50 <= p99);
    assert!(run.number("server_ns_per_msg") > 0.0);
    let user_sys = run.number("server_user") + run.number("server_sys");
    assert!(
        (user_sys - run.number("server_cpu")).abs() < 0.011,
        "{user_sys}"
    );
    assert_eq!(server.relayed_to_sender(), 0);
}

#[test]
fn fanout_through_our_rooms_on_two_workers() {
    // Subscribers on both workers: every publish crosses to the other.
    let config = Arc::new(AppConfig::default());
    let server = EchoServer::run(2, move || App::new(Arc::clone(&config)));
    let url = format!("ws://{}/topic/room", server.addr);
    let run = wsload(&[
        &url,
        "--subscribers",
        "60",
        "--publishers",
        "3",
        "--threads",
        "2",
        "--size",
        "1KiB",
        "--secs",
        "1",
    ]);
    assert!(run.success, "wsload failed:\n{}", run.stderr);
    for zero in ["lost", "reordered", "lossy_subs", "errors"] {
        assert_eq!(run.get(zero), "0", "{zero}");
    }
    let (published, msgs) = (run.number("published"), run.number("msgs"));
    assert!(published > 0.0, "{published}");
    // 62 receivers per message, within the window slack (`within_slack`).
    within_slack(msgs, published, 62.0, 3.0 * 16.0);
}

#[test]
fn fanout_publishers_keep_the_rate() {
    let server = PubSubServer::start(Fault::None);
    let url = format!("ws://{}/topic/clock", server.addr);
    let run = wsload(&[
        &url,
        "--subscribers",
        "5",
        "--rate",
        "40",
        "--size",
        "1KiB",
        "--secs",
        "1",
    ]);
    assert!(run.success, "wsload failed:\n{}", run.stderr);
    assert_eq!(run.get("publish_rate"), "40");
    // One message every 25 ms from the start: at most 40 in the window
    // (one more if the first falls exactly on its start).
    let published = run.number("published");
    assert!((1.0..=41.0).contains(&published), "{published}");
    let msgs = run.number("msgs");
    assert!(msgs > 0.0 && msgs <= published * 5.0, "{msgs}");
    assert_eq!(run.get("lost"), "0");
}

#[test]
fn fanout_a_lost_message_is_counted_and_stalls_the_window() {
    // Message 10 never reaches one subscriber: with a window of 4, the
    // publisher sends messages 0 to 13 and no more.
    let server = PubSubServer::start(Fault::Drop(10));
    let url = format!("ws://{}/topic/t", server.addr);
    let run = wsload(&[
        &url,
        "--subscribers",
        "6",
        "--window",
        "4",
        "--size",
        "64",
        "--secs",
        "0.5",
    ]);
    assert!(!run.success, "a lost message must fail the run");
    assert_eq!(run.get("published"), "14");
    assert_eq!(run.get("lost"), "1");
    assert_eq!(run.get("lossy_subs"), "1");
    assert_eq!(run.get("reordered"), "0");
    assert_eq!(run.get("errors"), "0");
}

#[test]
fn fanout_a_reordered_message_is_counted() {
    let server = PubSubServer::start(Fault::Swap(5));
    let url = format!("ws://{}/topic/t", server.addr);
    let run = wsload(&[&url, "--subscribers", "3", "--secs", "0.5"]);
    assert!(!run.success, "a reordered message must fail the run");
    assert_eq!(run.get("reordered"), "1");
    assert_eq!(run.get("lossy_subs"), "1");
    assert_eq!(run.get("lost"), "0");
}

#[test]
fn fanout_a_duplicated_message_is_not_counted_as_reordered() {
    // Message 5 reaches one subscriber twice in a row: nothing came after
    // a later message, nothing is lost; the repeat fails the run.
    let server = PubSubServer::start(Fault::Duplicate(5));
    let url = format!("ws://{}/topic/t", server.addr);
    let run = wsload(&[&url, "--subscribers", "3", "--secs", "0.5"]);
    assert!(!run.success, "a repeated message must fail the run");
    assert_eq!(run.get("reordered"), "0");
    assert_eq!(run.get("lost"), "0");
    assert_eq!(run.get("lossy_subs"), "0");
    assert!(run.number("errors") >= 1.0);
    assert!(
        run.stderr.contains("more often than sent"),
        "{}",
        run.stderr
    );
}

#[test]
fn fanout_a_duplicate_does_not_hide_a_lost_message() {
    // One subscriber gets message 5 twice and never message 10: it
    // received as many messages as were sent, but one is lost. With a
    // window of 4 the publisher stops at message 13.
    let server = PubSubServer::start(Fault::DuplicateAndDrop { dup: 5, drop: 10 });
    let url = format!("ws://{}/topic/t", server.addr);
    let run = wsload(&[
        &url,
        "--subscribers",
        "6",
        "--window",
        "4",
        "--size",
        "64",
        "--secs",
        "0.5",
    ]);
    assert!(!run.success);
    assert_eq!(run.get("published"), "14");
    assert_eq!(run.get("lost"), "1");
    assert_eq!(run.get("reordered"), "0");
    assert_eq!(run.get("lossy_subs"), "1");
    assert!(
        run.stderr.contains("more often than sent"),
        "{}",
        run.stderr
    );
}

#[test]
fn fanout_a_message_sent_back_to_its_publisher_fails_the_run() {
    let server = PubSubServer::start(Fault::ToSender);
    let url = format!("ws://{}/topic/t", server.addr);
    let run = wsload(&[&url, "--subscribers", "3", "--secs", "0.5"]);
    assert!(!run.success);
    assert!(run.number("errors") >= 1.0);
    assert!(run.stderr.contains("own message back"), "{}", run.stderr);
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Message n of the run (counted from 0) never reaches one receiver.
    Drop(u64),
    /// Message n reaches one receiver after message n + 1.
    Swap(u64),
    /// Every message goes back to its sender too.
    ToSender,
    /// Message n reaches one receiver twice, right after itself.
    Duplicate(u64),
    /// Message `dup` reaches one receiver twice and message `drop` never
    /// reaches it: as many messages as were sent, one of them missing.
    DuplicateAndDrop {
        dup: u64,
        drop: u64,
    },
}

/// A blocking pub/sub server on rfc6455's handshake and connection, a
/// thread per connection: every message a connection sends goes to all the
/// others, framed once and written under each receiver's lock. The faults
/// hit the first receiver in accept order.
struct PubSubServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    topic: Arc<Mutex<Topic>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Topic {
    members: Vec<(usize, Arc<Mutex<TcpStream>>)>,
    relayed: u64,
    /// A frame held back for the swap.
    held: Option<Vec<u8>>,
    to_sender: u64,
}

impl PubSubServer {
    fn start(fault: Fault) -> PubSubServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let topic = Arc::new(Mutex::new(Topic::default()));
        let (s, t) = (Arc::clone(&stop), Arc::clone(&topic));
        let thread = thread::spawn(move || {
            let mut conns = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (s, t) = (Arc::clone(&s), Arc::clone(&t));
                        let id = conns.len();
                        conns.push(thread::spawn(move || {
                            let _ = serve_topic(stream, id, &t, fault, &s);
                            t.lock().unwrap().members.retain(|(m, _)| *m != id);
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
        PubSubServer {
            addr,
            stop,
            topic,
            thread: Some(thread),
        }
    }

    fn relayed_to_sender(&self) -> u64 {
        self.topic.lock().unwrap().to_sender
    }
}

impl Drop for PubSubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// Sends one message of `sender` to the topic's other members (and to the
/// sender with `Fault::ToSender`).
fn relay(topic: &Mutex<Topic>, sender: usize, kind: MessageKind, data: &[u8], fault: Fault) {
    let mut topic = topic.lock().unwrap();
    let n = topic.relayed;
    topic.relayed += 1;
    let opcode = match kind {
        MessageKind::Text => OpCode::Text,
        MessageKind::Binary => OpCode::Binary,
    };
    let mut frame = Vec::new();
    Frame::new(opcode, data).encode_to_vec(&mut frame);
    let target = topic.members.iter().map(|m| m.0).find(|&m| m != sender);
    let mut held = topic.held.take();
    let mut to_sender = 0;
    for (id, stream) in &topic.members {
        if *id == sender {
            if fault != Fault::ToSender {
                continue;
            }
            to_sender += 1;
        }
        let mut out = frame.clone();
        if Some(*id) == target {
            match fault {
                Fault::Drop(k) | Fault::DuplicateAndDrop { drop: k, .. } if k == n => continue,
                Fault::Duplicate(k) | Fault::DuplicateAndDrop { dup: k, .. } if k == n => {
                    out.extend_from_slice(&frame)
                }
                Fault::Swap(k) if k == n => {
                    held = Some(out);
                    continue;
                }
                Fault::Swap(k) if k + 1 == n => out.extend(held.take().unwrap_or_default()),
                _ => {}
            }
        }
        // A member that left is removed by its own thread.
        let _ = stream.lock().unwrap().write_all(&out);
    }
    topic.held = held;
    topic.to_sender += to_sender;
}

/// Serves one member of the topic until it leaves or the server stops.
fn serve_topic(
    mut stream: TcpStream,
    id: usize,
    topic: &Mutex<Topic>,
    fault: Fault,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let Some((mut conn, response)) = upgrade(&mut stream, stop)? else {
        return Ok(());
    };
    // Subscribed before the response goes out, as a real server would.
    let writer = Arc::new(Mutex::new(stream.try_clone()?));
    {
        let mut topic = topic.lock().unwrap();
        writer.lock().unwrap().write_all(&response)?;
        topic.members.push((id, Arc::clone(&writer)));
    }
    let would_block =
        |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
    loop {
        loop {
            let event = conn.next_event_with(|event, _| match event {
                Event::Binary(b) => relay(topic, id, MessageKind::Binary, b, fault),
                Event::Text(t) => relay(topic, id, MessageKind::Text, t.as_bytes(), fault),
                _ => {}
            });
            match event {
                Ok(Some(())) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if conn.has_output() {
            let mut writer = writer.lock().unwrap();
            while conn.has_output() {
                let n = {
                    let out = conn.output();
                    writer.write_all(out)?;
                    out.len()
                };
                conn.consume_output(n);
            }
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

/// Reads an opening handshake from `stream` (made blocking, with a short
/// read timeout so that `stop` is seen): the connection, with what came
/// behind the request already fed to it, and the 101 response to send; or
/// `None` if the peer left or sent something else.
fn upgrade(
    stream: &mut TcpStream,
    stop: &AtomicBool,
) -> std::io::Result<Option<(Connection, Vec<u8>)>> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut parser = RequestParser::new(&Limits::default());
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                    && !stop.load(Ordering::SeqCst) =>
            {
                continue
            }
            Err(e) => return Err(e),
        }
        match parser.parse(&head) {
            Ok(Status::Incomplete(_)) => {}
            Ok(Status::Complete(Opening::WebSocket(ws))) => {
                let mut response = Vec::new();
                ws.accept(&Accept::new(), &mut response).unwrap();
                let mut conn = Connection::server(Config::default());
                conn.receive(&head[ws.consumed()..], Duration::ZERO);
                return Ok(Some((conn, response)));
            }
            _ => return Ok(None),
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
    let Some((mut conn, response)) = upgrade(&mut stream, stop)? else {
        return Ok(());
    };
    stream.write_all(&response)?;
    let would_block =
        |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
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

#[test]
fn wsload_raises_its_open_file_limit_for_its_connections() {
    let server = EchoServer::start();
    let url = format!("ws://{}/", server.addr);
    // A soft limit of 64 files: without the raise, the connections past
    // about 60 would fail with EMFILE.
    let mut bash = Command::new("bash");
    bash.args([
        "-c",
        "ulimit -Sn 64 && exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_wsload"),
    ]);
    let run = wsload_from(bash, &[&url, "--conns", "150", "--secs", "0.3"]);
    assert_clean(&run);
    assert_eq!(run.get("conns"), "150");
}
