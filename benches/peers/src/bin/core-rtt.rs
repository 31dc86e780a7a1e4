//! Core-to-core round trip: two threads pinned to two cores bounce one
//! cache line, and the time per round trip says how far apart the cores
//! are right now.
//!
//! On a VM the two vCPUs can sit on hyperthreads of one physical core, on
//! two cores of one chiplet or on different chiplets, and the host moves
//! them within seconds; the loopback echo benchmark's CPU per message moves
//! with it (a wake-up and every socket buffer cross between the cores).
//! `scripts/bench-echo.sh` runs this before and after every run and
//! compares servers only on runs taken in the same state.
//!
//! `core-rtt [--cores A,B] [--batches N] [--trips N]` prints one line:
//!
//! ```text
//! rtt_ns=212 min_ns=204 max_ns=231 batches=15 trips=4000
//! ```
//!
//! `rtt_ns` is the median over the batches of the mean round trip within a
//! batch (the first batch, which warms up, is dropped); each batch is
//! `--trips` round trips. Exit status 1 if a thread cannot be pinned.

use std::hint::spin_loop;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Instant;

/// The bounced value, alone on its cache line (and the next: adjacent-line
/// prefetch pulls lines in pairs), so nothing else shares its traffic.
#[repr(align(128))]
struct Line(AtomicU64);

struct Options {
    cores: (usize, usize),
    batches: usize,
    trips: u64,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(message) => {
            eprintln!(
                "core-rtt: {message}\nusage: core-rtt [--cores A,B] [--batches N] [--trips N]"
            );
            return ExitCode::from(2);
        }
    };
    match measure(&options) {
        Ok(mut per_batch) => {
            per_batch.sort_by(f64::total_cmp);
            let median = per_batch[per_batch.len() / 2];
            println!(
                "rtt_ns={median:.0} min_ns={:.0} max_ns={:.0} batches={} trips={}",
                per_batch[0],
                per_batch[per_batch.len() - 1],
                per_batch.len(),
                options.trips
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("core-rtt: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        cores: (0, 1),
        batches: 15,
        trips: 4000,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--cores" => {
                let v = value()?;
                let (a, b) = v.split_once(',').ok_or(format!("--cores {v}: not A,B"))?;
                o.cores = (number(a)?, number(b)?);
            }
            "--batches" => o.batches = number(&value()?)?.max(1),
            "--trips" => o.trips = number(&value()?)?.max(1) as u64,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(o)
}

fn number(v: &str) -> Result<usize, String> {
    v.trim().parse().map_err(|_| format!("{v}: not a number"))
}

fn pin(core: usize) -> Result<(), String> {
    if core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        Ok(())
    } else {
        Err(format!("cannot pin a thread to core {core}"))
    }
}

/// Mean round trip of each batch after the first, in ns.
fn measure(o: &Options) -> Result<Vec<f64>, String> {
    let line = Arc::new(Line(AtomicU64::new(0)));
    // Odd values go from the pinger to the ponger, even ones come back;
    // u64::MAX tells the ponger to stop.
    let total = (o.batches as u64 + 1) * o.trips;
    let (pinned_tx, pinned_rx) = mpsc::channel();
    let ponger = {
        let line = Arc::clone(&line);
        let core = o.cores.1;
        thread::spawn(move || {
            let pinned = pin(core);
            let ok = pinned.is_ok();
            let _ = pinned_tx.send(pinned);
            if !ok {
                return;
            }
            let mut expect = 1;
            loop {
                let v = line.0.load(Ordering::Acquire);
                if v == u64::MAX {
                    return;
                }
                if v == expect {
                    line.0.store(v + 1, Ordering::Release);
                    expect += 2;
                } else {
                    spin_loop();
                }
            }
        })
    };
    // The pinger starts only once the ponger is pinned (or gave up).
    let pinned = pinned_rx
        .recv()
        .unwrap_or_else(|_| Err("the second thread died".into()));
    let result = pinned.and_then(|()| pin(o.cores.0)).map(|()| {
        let mut per_batch = Vec::with_capacity(o.batches);
        let mut value = 0u64;
        for batch in 0..=o.batches {
            let start = Instant::now();
            for _ in 0..o.trips {
                line.0.store(value + 1, Ordering::Release);
                while line.0.load(Ordering::Acquire) != value + 2 {
                    spin_loop();
                }
                value += 2;
            }
            if batch > 0 {
                per_batch.push(start.elapsed().as_nanos() as f64 / o.trips as f64);
            }
        }
        debug_assert_eq!(value, 2 * total);
        per_batch
    });
    line.0.store(u64::MAX, Ordering::Release);
    ponger
        .join()
        .map_err(|_| "the second thread panicked".to_owned())?;
    result
}
