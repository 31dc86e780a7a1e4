//! wsload: a load generator for WebSocket echo servers, on mio.
//!
//! The main thread parses the flags, starts the load threads
//! ([`driver::Worker`]), waits until every connection is up, hands all
//! threads the same measurement window, merges the threads' results and
//! prints one line.

mod args;
mod driver;
mod histogram;
mod payload;
mod procstat;
mod raw;
mod rng;
mod stream;

use std::net::ToSocketAddrs;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Instant;

use rfc6455::connection::{Config, MessageKind};
use rfc6455::handshake::WsUrl;
use rfc6455::Limits;

use args::Options;
use driver::{Control, Plan, Report, Schedule, Share, Worker};
use histogram::Histogram;
use rng::SplitMix64;

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
    let plan = match make_plan(&options) {
        Ok(plan) => Arc::new(plan),
        Err(message) => {
            eprintln!("wsload: {message}");
            return ExitCode::from(2);
        }
    };
    let mut seeds = match SplitMix64::from_os() {
        Ok(rng) => rng,
        Err(e) => {
            eprintln!("wsload: no OS random source: {e}");
            return ExitCode::FAILURE;
        }
    };

    let abort = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut controls = Vec::new();
    let mut threads = Vec::new();
    let mut first = 0;
    for t in 0..options.threads {
        let count =
            options.conns / options.threads + usize::from(t < options.conns % options.threads);
        let share = Share {
            first,
            count,
            handshakes: options.handshakes.div_ceil(options.threads),
            seed: seeds.next_u64(),
        };
        first += count;
        let (control_tx, control_rx) = mpsc::channel();
        controls.push(control_tx);
        let (plan, abort, ready) = (Arc::clone(&plan), Arc::clone(&abort), ready_tx.clone());
        let spawned = thread::Builder::new()
            .name(format!("wsload-{t}"))
            .spawn(move || {
                if plan.raw {
                    return raw::run(plan, share, &abort, ready, control_rx);
                }
                match Worker::new(plan, share) {
                    Ok(worker) => worker.run(&abort, ready, control_rx),
                    Err(e) => {
                        eprintln!("wsload: cannot start a poll: {e}");
                        let _ = ready.send(false);
                        Report {
                            msgs: 0,
                            hist: Histogram::new(),
                            errors: 1,
                            cpu: None,
                            wire_in: 0,
                        }
                    }
                }
            });
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                eprintln!("wsload: cannot start a thread: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    drop(ready_tx);

    // Every thread reports once; a thread that died drops its sender.
    let connect_start = Instant::now();
    let all_up = (0..threads.len()).all(|_| ready_rx.recv().unwrap_or(false));
    let mut server_cpu = None;
    let mut server_user_share = None;
    if all_up {
        eprintln!(
            "wsload: {} connection{} up in {:.2} s",
            options.conns,
            if options.conns == 1 { "" } else { "s" },
            connect_start.elapsed().as_secs_f64()
        );
        let start = Instant::now();
        let schedule = Schedule {
            measure_from: start + options.warmup,
            measure_to: start + options.warmup + options.secs,
        };
        for control in &controls {
            let _ = control.send(Control::Go(schedule));
        }
        if let Some(pid) = options.server_pid {
            (server_cpu, server_user_share) = procstat::over_window(pid, schedule);
        }
    } else {
        for control in &controls {
            let _ = control.send(Control::Abort);
        }
    }

    let mut msgs = 0;
    let mut wire_in = 0;
    let mut errors = 0;
    let mut hist = Histogram::new();
    // CPU seconds of all threads in the window, if every thread could say.
    let mut cpu = Some(0.0);
    for handle in threads {
        match handle.join() {
            Ok(report) => {
                msgs += report.msgs;
                wire_in += report.wire_in;
                errors += report.errors;
                hist.merge(&report.hist);
                cpu = cpu.zip(report.cpu).map(|(a, b)| a + b.as_secs_f64());
            }
            Err(_) => {
                eprintln!("wsload: a load thread panicked");
                errors += 1;
            }
        }
    }
    if !all_up && errors == 0 {
        errors = 1; // a thread gave up because another one failed
    }
    let cpu = cpu
        .filter(|_| all_up)
        .map(|c| c / options.secs.as_secs_f64());
    let result = Totals {
        msgs,
        hist,
        cpu,
        server_cpu,
        server_user_share,
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

/// Resolves the URL and sets the connection limits the run needs.
fn make_plan(options: &Options) -> Result<Plan, String> {
    // tcp://HOST:PORT names the same address as ws://HOST:PORT.
    let raw = options
        .url
        .strip_prefix("tcp://")
        .map(|rest| format!("ws://{rest}"));
    let url = WsUrl::parse(raw.as_deref().unwrap_or(&options.url))
        .map_err(|e| format!("{}: {e}", options.url))?;
    if raw.is_some() && options.churn {
        return Err("--churn needs a ws:// or wss:// URL".into());
    }
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
    Ok(Plan {
        addr,
        url: options.url.clone(),
        size: options.size,
        depth: options.pipeline,
        kind: if options.text {
            MessageKind::Text
        } else {
            MessageKind::Binary
        },
        payload: options.payload,
        deflate: options.deflate,
        idle: options.idle,
        raw: raw.is_some(),
        churn: options.churn,
        #[cfg(feature = "tls")]
        tls,
        config: Config {
            limits,
            // Room for a read's worth of echoes; a larger frame still gets
            // room for all of itself. Small reads keep 10,000 idle
            // connections cheap.
            read_chunk: frame
                .saturating_mul(options.pipeline)
                .clamp(4 << 10, 64 << 10),
            ..Config::default()
        },
    })
}

struct Totals {
    msgs: u64,
    hist: Histogram,
    /// wsload's CPU time over the window, in cores.
    cpu: Option<f64>,
    /// The server's CPU seconds over the window.
    server_cpu: Option<f64>,
    /// The part of those in user space, from 0 to 1.
    server_user_share: Option<f64>,
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
            _ if o.url.starts_with("tcp://") => "tcp",
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
        match t.server_cpu {
            Some(s) => {
                let per_msg = if t.msgs == 0 {
                    0.0
                } else {
                    s * 1e9 / t.msgs as f64
                };
                line += &format!(" server_cpu={:.2} server_ns_per_msg={per_msg:.0}", s / secs);
                match t.server_user_share {
                    Some(u) => {
                        line += &format!(
                            " server_user_ns_per_msg={:.0} server_kernel_ns_per_msg={:.0}",
                            per_msg * u,
                            per_msg * (1.0 - u)
                        )
                    }
                    None => line += " server_user_ns_per_msg=- server_kernel_ns_per_msg=-",
                }
            }
            None => {
                line += " server_cpu=- server_ns_per_msg=- server_user_ns_per_msg=- \
                         server_kernel_ns_per_msg=-"
            }
        }
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
            server_cpu: Some(0.005), // 1 ms per second over 5 s
            server_user_share: Some(0.25),
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
    }
}
