//! Ours against `tungstenite` and `fastwebsockets`, in memory, same input,
//! same run.
//!
//! Every path receives the same bytes: masked binary frames from a client,
//! one message each, of 20 B, 1 KiB, 16 KiB and 1 MiB, as many per
//! iteration as fill a 64 KiB read (3276, 64, 4 and 1), copied in by reads
//! of at most 64 KiB. `src/paths.rs` says exactly what each path runs.
//!
//! - `decode`: frames in, unmasked payloads out (payload bytes/s). `ours`
//!   is our connection (`next_event`, every protocol check, message
//!   delivery), the like of tungstenite's `WebSocket::read` and
//!   fastwebsockets' `WebSocket::read_frame`; `ours-frame` is our frame
//!   layer alone (`decode_frame`), which neither peer exposes.
//! - `echo`: a server decodes every message and sends it back; the bytes
//!   it sends are collected (messages/s), each library as its echo server
//!   uses it. Ours: `next_event_with` + `send_binary` (queued, copied out
//!   after each read), or `send_message_vectored` (written straight out)
//!   from 4 KiB; tungstenite: `read` + `send`; fastwebsockets:
//!   `FragmentCollector::read_frame` + `write_frame` (written straight out).
//!
//! The peers read an in-memory stream (`src/mem.rs`); fastwebsockets'
//! futures are polled once with a no-op waker, so no runtime cost is
//! counted for it. Before measuring, each path's output is checked
//! against the expected bytes.
//!
//! At the end the run prints a table of our throughput over each peer's,
//! from this run's estimates only (files written before it started are
//! ignored), and writes it to `target/criterion/compare-summary.md`.
//!
//! Run: `cargo bench --bench compare -- --warm-up-time 1 --measurement-time 2`
//! (in `benches/peers`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use criterion::{BenchmarkId, Criterion, Throughput};
use rfc6455_peers::input::{client_frames, expected_echo, Point, POINTS};
use rfc6455_peers::paths::{
    FastEcho, FastReceive, OursEcho, OursFrames, OursReceive, TungsteniteEcho, TungsteniteReceive,
};

const DECODE: &[&str] = &["ours-frame", "ours", "tungstenite", "fastwebsockets"];
const ECHO: &[&str] = &["ours", "tungstenite", "fastwebsockets"];

fn sample_size(point: &Point) -> usize {
    if point.size >= 1 << 20 {
        30
    } else {
        100
    }
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for point in POINTS {
        let (count, bytes) = (point.count(), point.payload_bytes());
        let wire = client_frames(point.size, count);
        group.sample_size(sample_size(&point));
        group.throughput(Throughput::Bytes(bytes as u64));
        let id = |name| BenchmarkId::new(name, point.label);

        let mut frames = OursFrames::default();
        assert_eq!(frames.run(&wire), bytes);
        group.bench_function(id("ours-frame"), |b| b.iter(|| frames.run(&wire)));

        let mut ours = OursReceive::default();
        assert_eq!(ours.run(&wire), bytes);
        group.bench_function(id("ours"), |b| b.iter(|| ours.run(&wire)));

        let mut tungstenite = TungsteniteReceive::new(&wire);
        assert_eq!(tungstenite.run(count), bytes);
        group.bench_function(id("tungstenite"), |b| b.iter(|| tungstenite.run(count)));

        let mut fast = FastReceive::new(&wire);
        assert_eq!(fast.run(count), bytes);
        group.bench_function(id("fastwebsockets"), |b| b.iter(|| fast.run(count)));
    }
    group.finish();
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo");
    for point in POINTS {
        let count = point.count();
        let wire = client_frames(point.size, count);
        let expected = expected_echo(point.size, count);
        group.sample_size(sample_size(&point));
        group.throughput(Throughput::ElementsAndBytes {
            elements: count as u64,
            bytes: point.payload_bytes() as u64,
        });
        let id = |name| BenchmarkId::new(name, point.label);

        let mut ours = OursEcho::default();
        ours.run(&wire);
        assert!(ours.output() == expected, "ours: wrong echo");
        group.bench_function(id("ours"), |b| b.iter(|| ours.run(&wire)));

        let mut tungstenite = TungsteniteEcho::new(&wire);
        tungstenite.run(count);
        assert!(tungstenite.output() == expected, "tungstenite: wrong echo");
        group.bench_function(id("tungstenite"), |b| b.iter(|| tungstenite.run(count)));

        let mut fast = FastEcho::new(&wire);
        fast.run(count);
        assert!(fast.output() == expected, "fastwebsockets: wrong echo");
        group.bench_function(id("fastwebsockets"), |b| b.iter(|| fast.run(count)));
    }
    group.finish();
}

fn criterion_home() -> PathBuf {
    std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion"))
}

/// Seconds per iteration that criterion reports for one benchmark (its
/// slope estimate, or the mean where it has no slope), if this run wrote
/// it.
fn seconds(home: &Path, group: &str, name: &str, point: &Point, since: SystemTime) -> Option<f64> {
    let path = home
        .join(group)
        .join(name)
        .join(point.label)
        .join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    let estimate = match &json["slope"] {
        serde_json::Value::Null => &json["mean"],
        slope => slope,
    };
    Some(estimate["point_estimate"].as_f64()? * 1e-9)
}

fn bytes_rate(per_second: f64) -> String {
    match per_second {
        r if r >= (1u64 << 30) as f64 => format!("{:.2} GiB/s", r / (1u64 << 30) as f64),
        r => format!("{:.0} MiB/s", r / (1u64 << 20) as f64),
    }
}

fn messages_rate(per_second: f64) -> String {
    match per_second {
        r if r >= 1e6 => format!("{:.2} M/s", r / 1e6),
        r => format!("{:.1} k/s", r / 1e3),
    }
}

/// One Markdown table: a rate column per name, then `ours` over each peer.
fn table(
    out: &mut String,
    group: &str,
    names: &[&str],
    peers: &[&str],
    since: SystemTime,
    rate: impl Fn(&Point, f64) -> String,
) {
    let home = criterion_home();
    let _ = write!(out, "| {group} |");
    for name in names {
        let _ = write!(out, " {name} |");
    }
    for peer in peers {
        let _ = write!(out, " ours / {peer} |");
    }
    let _ = write!(out, "\n|---|");
    for _ in 0..names.len() + peers.len() {
        let _ = write!(out, "---:|");
    }
    for point in POINTS {
        let time = |name| seconds(&home, group, name, &point, since);
        let _ = write!(out, "\n| {} |", point.label);
        for name in names {
            match time(name) {
                Some(t) => {
                    let _ = write!(out, " {} |", rate(&point, t));
                }
                None => out.push_str(" - |"),
            }
        }
        for peer in peers {
            match (time("ours"), time(peer)) {
                (Some(ours), Some(theirs)) => {
                    let _ = write!(out, " {:.2}x |", theirs / ours);
                }
                _ => out.push_str(" - |"),
            }
        }
    }
    out.push('\n');
}

fn summary(since: SystemTime) {
    let peers = ["tungstenite", "fastwebsockets"];
    let mut out = String::from(
        "Throughput in this run (criterion's estimate per point); ratios are our \
         throughput over the peer's (> 1: we are faster).\n\n\
         Decode: masked client frames in, unmasked payloads out, payload bytes/s. \
         `ours` is our connection; `ours-frame` our frame layer alone.\n\n",
    );
    table(&mut out, "decode", DECODE, &peers, since, |p, t| {
        bytes_rate(p.payload_bytes() as f64 / t)
    });
    out.push_str("\nEcho: server decodes and sends back every message, messages/s.\n\n");
    table(&mut out, "echo", ECHO, &peers, since, |p, t| {
        messages_rate(p.count() as f64 / t)
    });
    println!("\n{out}");
    let path = criterion_home().join("compare-summary.md");
    if std::fs::write(&path, &out).is_ok() {
        println!("(written to {})", path.display());
    }
}

fn main() {
    // Estimates older than this are from another run and never compared.
    let since = SystemTime::now();
    let mut c = Criterion::default()
        .output_directory(&criterion_home())
        .configure_from_args();
    decode(&mut c);
    echo(&mut c);
    c.final_summary();
    summary(since);
}
