//! wsload: a load generator for WebSocket echo and pub/sub servers, on
//! mio.
//!
//! The main thread parses the flags and picks the mode: echo (`echo.rs`,
//! its messages from `payload.rs`), handshakes (`churn.rs`, with
//! `--churn`), fan-out (`fanout.rs`, with `--subscribers`) or the echo
//! over bare TCP (`raw.rs`, with a `tcp://` URL). The WebSocket modes run
//! on the same connection driver (`driver.rs`, over `ws://` or `wss://`,
//! `stream.rs`); every mode runs on the same thread launcher (`launch.rs`)
//! and CPU accounting (`cpu.rs`): the load threads connect their share of
//! the connections, the main thread waits until every connection is up,
//! hands all threads the same measurement window, merges the threads'
//! results and prints one line.

mod args;
mod churn;
mod cpu;
mod driver;
mod echo;
mod fanout;
mod histogram;
mod launch;
mod payload;
mod raw;
mod rng;
mod stream;

use std::io;
use std::net::ToSocketAddrs;
use std::process::ExitCode;
use std::sync::Arc;

use rfc6455::connection::{Config, MessageKind};
use rfc6455::handshake::WsUrl;
use rfc6455::Limits;

use args::Options;
use cpu::ProcessCpu;
use driver::{Share, Target};
use echo::Plan;
use histogram::Histogram;
use launch::{LoadThread, Outcome};
use rng::SplitMix64;

/// Raises the open-file limit to what the connections need (each is one),
/// as far as the hard limit allows; says so when that falls short, since
/// the connections past it would fail with EMFILE.
fn open_files_for(options: &args::Options) {
    let conns = match options.subscribers {
        Some(subscribers) => subscribers + options.publishers,
        None => options.conns,
    };
    let wanted = conns as u64 + 64;
    if let Ok(limit) = rfc6455::server::raise_open_file_limit(wanted) {
        if !limit.allows(wanted) {
            eprintln!(
                "wsload: {conns} connections need about {wanted} open files, and the hard \
                 limit allows {} (ulimit -Hn): connections past it will fail",
                limit.now.unwrap_or(u64::MAX)
            );
        }
    }
}

fn main() -> ExitCode {
    let options = match args::parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{}", args::HELP);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("wsload: {message}\nTry --help.");
            return ExitCode::from(2);
        }
    };
    open_files_for(&options);
    let mut seeds = match SplitMix64::from_os() {
        Ok(rng) => rng,
        Err(e) => {
            eprintln!("wsload: no OS random source: {e}");
            return ExitCode::FAILURE;
        }
    };
    if options.subscribers.is_some() {
        return fanout::run(&options, &mut seeds);
    }
    let plan = match make_plan(&options) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("wsload: {message}");
            return ExitCode::from(2);
        }
    };

    let shares = shares(&options, &mut seeds);
    let outcome = if options.churn {
        let target = Arc::new(plan.target);
        start(shares, &options, |share| {
            churn::Worker::new(Arc::clone(&target), share)
        })
    } else if plan.raw {
        let plan = Arc::new(plan);
        start(shares, &options, |share| {
            raw::Worker::new(Arc::clone(&plan), share)
        })
    } else {
        let plan = Arc::new(plan);
        start(shares, &options, |share| {
            echo::Worker::new(Arc::clone(&plan), share)
        })
    };
    let Some(outcome) = outcome else {
        return ExitCode::FAILURE;
    };

    let mut msgs = 0;
    let mut wire_in = 0;
    let mut errors = 0;
    let mut hist = Histogram::new();
    // CPU seconds of all threads in the window, if every thread could say.
    let mut cpu = Some(0.0);
    for report in outcome.reports {
        match report {
            Some(report) => {
                msgs += report.msgs;
                wire_in += report.wire_in;
                errors += report.errors;
                hist.merge(&report.hist);
                cpu = cpu.zip(report.cpu).map(|(a, b)| a + b.as_secs_f64());
            }
            None => errors += 1,
        }
    }
    if !outcome.all_up && errors == 0 {
        errors = 1; // a thread gave up because another one failed
    }
    let cpu = cpu
        .filter(|_| outcome.all_up)
        .map(|c| c / options.secs.as_secs_f64());
    let result = Totals {
        msgs,
        hist,
        cpu,
        server_cpu: outcome.server_cpu,
        wire_in,
        errors,
    };
    println!("{}", summary(&options, &result));
    if result.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Makes one load thread per share and runs them; `None` (the error
/// described) if one could not start.
fn start<W: LoadThread>(
    shares: Vec<Share>,
    options: &Options,
    new: impl FnMut(Share) -> io::Result<W>,
) -> Option<Outcome<W::Report>> {
    let workers = shares
        .into_iter()
        .map(new)
        .collect::<io::Result<Vec<W>>>()
        .inspect_err(|e| eprintln!("wsload: cannot start a poll: {e}"))
        .ok()?;
    launch::launch(workers, options)
}

/// Splits the connections over the threads.
fn shares(options: &Options, seeds: &mut SplitMix64) -> Vec<Share> {
    let mut first = 0;
    (0..options.threads)
        .map(|t| {
            let count =
                options.conns / options.threads + usize::from(t < options.conns % options.threads);
            let share = Share {
                first,
                count,
                handshakes: options.handshakes.div_ceil(options.threads),
                seed: seeds.next_u64(),
            };
            first += count;
            share
        })
        .collect()
}

/// Where and how every connection of the run connects: the URL's host
/// resolved, and for `wss://` the TLS configuration (`--cafile`'s CAs or
/// Mozilla's roots) and the name the certificate must carry.
fn target(options: &Options, config: Config) -> Result<Target, String> {
    // tcp://HOST:PORT names the same address as ws://HOST:PORT.
    let raw = options
        .url
        .strip_prefix("tcp://")
        .map(|rest| format!("ws://{rest}"));
    let url_text = raw.as_deref().unwrap_or(&options.url);
    let url = WsUrl::parse(url_text).map_err(|e| format!("{}: {e}", options.url))?;
    #[cfg(feature = "tls")]
    let tls = if url.is_secure() {
        let trust = match &options.cafile {
            Some(path) => rfc6455::tls::ClientTls::from_ca_file(path).map_err(|e| e.to_string())?,
            None => rfc6455::tls::ClientTls::default(),
        };
        let name = rfc6455::tls::rustls::pki_types::ServerName::try_from(url.host())
            .map_err(|e| format!("{}: {e}", url.host()))?
            .to_owned();
        Some(stream::TlsTarget {
            config: trust.config(),
            name,
        })
    } else {
        None
    };
    #[cfg(not(feature = "tls"))]
    if url.is_secure() || options.cafile.is_some() {
        return Err(format!(
            "{}: wss:// needs the tls feature, which this build lacks",
            options.url
        ));
    }
    let addr = (url.host(), url.port())
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", url.host()))?
        .next()
        .ok_or_else(|| format!("{}: no address", url.host()))?;
    Ok(Target {
        addr,
        url: url_text.to_owned(),
        config,
        deflate: options.deflate,
        #[cfg(feature = "tls")]
        tls,
    })
}

/// Resolves the URL and sets the connection limits the run needs.
fn make_plan(options: &Options) -> Result<Plan, String> {
    let size = options.size as u64;
    let frame = options.size + 14;
    let limits = Limits {
        max_frame_size: Limits::DEFAULT.max_frame_size.max(size),
        max_message_size: Limits::DEFAULT.max_message_size.max(size),
        max_output_buffer: Limits::DEFAULT
            .max_output_buffer
            .max(frame.saturating_mul(options.pipeline).saturating_add(256)),
        ..Limits::DEFAULT
    };
    let config = Config {
        limits,
        // Room for a read's worth of echoes; a larger frame still gets room
        // for all of itself. Small reads keep 10,000 idle connections
        // cheap.
        read_chunk: frame
            .saturating_mul(options.pipeline)
            .clamp(4 << 10, 64 << 10),
        ..Config::default()
    };
    Ok(Plan {
        target: target(options, config)?,
        size: options.size,
        depth: options.pipeline,
        kind: if options.text {
            MessageKind::Text
        } else {
            MessageKind::Binary
        },
        payload: options.payload,
        idle: options.idle,
        raw: options.is_raw(),
    })
}

struct Totals {
    msgs: u64,
    hist: Histogram,
    /// wsload's CPU time over the window, in cores.
    cpu: Option<f64>,
    /// The server's CPU over the window.
    server_cpu: Option<ProcessCpu>,
    /// Bytes read from the sockets in the window.
    wire_in: u64,
    errors: u64,
}

/// The one machine-readable result line.
fn summary(o: &Options, t: &Totals) -> String {
    let secs = o.secs.as_secs_f64();
    let rate = t.msgs as f64 / secs;
    let mbps = rate * o.size as f64 * 8.0 / 1e6;
    let us = |ns: u64| ns as f64 / 1e3;
    let hist = &t.hist;
    let cpu = t.cpu.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
    let mut line = format!(
        "conns={} size={} secs={secs:.2} pipeline={} threads={} kind={} msgs={} \
         rate={rate:.0} mbps={mbps:.2} p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} \
         cpu={cpu}",
        o.conns,
        o.size,
        o.pipeline,
        o.threads,
        match (o.churn, o.idle, o.text) {
            (true, _, _) => "handshakes",
            (false, true, _) => "idle",
            _ if o.is_raw() => "tcp",
            (false, false, true) => "text",
            (false, false, false) => "binary",
        },
        t.msgs,
        us(hist.quantile(0.5)),
        us(hist.quantile(0.99)),
        us(hist.quantile(0.999)),
        us(hist.max()),
    );
    if o.server_pid.is_some() {
        line += &cpu::server_fields(t.server_cpu, t.msgs, secs);
    }
    if o.deflate {
        // What compression saved: the server's frames per echo as read.
        let per_msg = if t.msgs == 0 {
            0.0
        } else {
            t.wire_in as f64 / t.msgs as f64
        };
        line += &format!(" deflate=on wire_in_per_msg={per_msg:.0}");
    }
    line += &format!(" errors={}", t.errors);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_one_line_of_key_values() {
        let o = Options {
            conns: 100,
            size: 20,
            ..Options::default()
        };
        let mut hist = Histogram::new();
        hist.record(38_000);
        let mut totals = Totals {
            msgs: 500,
            hist,
            cpu: Some(0.98),
            // 1 ms per second over 5 s, a quarter of it in user space
            server_cpu: Some(ProcessCpu {
                secs: 0.005,
                user_share: Some(0.25),
            }),
            wire_in: 12_000,
            errors: 0,
        };
        let line = summary(&o, &totals);
        assert!(!line.contains('\n'));
        assert!(line.starts_with("conns=100 size=20 secs=5.00 pipeline=1 threads=1 kind=binary "));
        assert!(
            line.contains(" msgs=500 rate=100 mbps=0.02 p50_us="),
            "{line}"
        );
        assert!(line.ends_with(" cpu=0.98 errors=0"), "{line}");
        for field in line.split(' ') {
            assert!(field.split_once('=').is_some(), "{field}");
        }

        let o = Options {
            server_pid: Some(1),
            ..o
        };
        totals.errors = 3;
        let line = summary(&o, &totals);
        assert!(
            line.ends_with(
                " cpu=0.98 server_cpu=0.00 server_ns_per_msg=10000 \
                 server_user_ns_per_msg=2500 server_kernel_ns_per_msg=7500 errors=3"
            ),
            "{line}"
        );

        let o = Options { deflate: true, ..o };
        let line = summary(&o, &totals);
        assert!(
            line.ends_with(" deflate=on wire_in_per_msg=24 errors=3"),
            "{line}"
        );

        let o = Options {
            url: "tcp://127.0.0.1:9001".into(),
            deflate: false,
            ..o
        };
        assert!(summary(&o, &totals).contains(" kind=tcp "));
    }
}
