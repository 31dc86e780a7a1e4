//! Runs the load threads of either mode: each connects its share, the main
//! thread waits until every connection is up, hands all threads the same
//! measurement window, samples the server's CPU over it and collects the
//! threads' reports.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Instant;

use crate::args::Options;
use crate::cpu::{process_cpu, ProcessCpu};
use crate::driver::{Control, Schedule};

/// One load thread of a mode.
pub trait LoadThread: Send + 'static {
    type Report: Send + 'static;
    /// Whether `connect` opens the connections the load runs on (churn
    /// opens its connections during the load instead).
    const OPENS_UP_FRONT: bool = true;
    /// Opens the thread's connections; false (the error described) if one
    /// failed or `abort` was raised.
    fn connect(&mut self, abort: &AtomicBool) -> bool;
    /// The load, from the common start to the last close.
    fn load(&mut self, schedule: Schedule);
    fn report(self) -> Self::Report;
}

/// What a run gives back.
pub struct Outcome<R> {
    /// Every connection came up and the load ran.
    pub all_up: bool,
    /// One per thread; `None` for a thread that panicked.
    pub reports: Vec<Option<R>>,
    /// The server's CPU over the window, with `--server-pid`.
    pub server_cpu: Option<ProcessCpu>,
}

/// Starts one thread per worker, runs the load once all the run's
/// connections are up and joins them; `None` (the error described) if a
/// thread could not start.
pub fn launch<W: LoadThread>(workers: Vec<W>, options: &Options) -> Option<Outcome<W::Report>> {
    let (conns, warmup, secs) = (options.conns, options.warmup, options.secs);
    let abort = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut controls = Vec::new();
    let mut threads = Vec::new();
    for (t, mut worker) in workers.into_iter().enumerate() {
        let (control_tx, control_rx) = mpsc::channel();
        controls.push(control_tx);
        let (thread_abort, ready) = (Arc::clone(&abort), ready_tx.clone());
        let spawned = thread::Builder::new()
            .name(format!("wsload-{t}"))
            .spawn(move || {
                let connected = worker.connect(&thread_abort);
                if !connected {
                    thread_abort.store(true, Ordering::SeqCst);
                }
                // The main thread may have stopped listening after another
                // thread's failure; either way the control channel decides.
                let _ = ready.send(connected);
                match control_rx.recv() {
                    Ok(Control::Go(schedule)) if connected => worker.load(schedule),
                    _ => {}
                }
                worker.report()
            });
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                abort.store(true, Ordering::SeqCst);
                for control in &controls {
                    let _ = control.send(Control::Abort);
                }
                for handle in threads {
                    let _ = handle.join();
                }
                eprintln!("wsload: cannot start a thread: {e}");
                return None;
            }
        }
    }
    drop(ready_tx);

    // Every thread reports once; a thread that died drops its sender.
    let connect_start = Instant::now();
    let all_up = (0..threads.len()).all(|_| ready_rx.recv().unwrap_or(false));
    let mut server_cpu = None;
    if all_up && W::OPENS_UP_FRONT {
        eprintln!(
            "wsload: {} connection{} up in {:.2} s",
            conns,
            if conns == 1 { "" } else { "s" },
            connect_start.elapsed().as_secs_f64()
        );
    }
    if all_up {
        let start = Instant::now();
        let schedule = Schedule {
            measure_from: start + warmup,
            measure_to: start + warmup + secs,
        };
        for control in &controls {
            let _ = control.send(Control::Go(schedule));
        }
        if let Some(pid) = options.server_pid {
            server_cpu = process_cpu(pid, schedule);
        }
    } else {
        for control in &controls {
            let _ = control.send(Control::Abort);
        }
    }
    let reports = threads
        .into_iter()
        .map(|handle| {
            handle
                .join()
                .inspect_err(|_| eprintln!("wsload: a load thread panicked"))
                .ok()
        })
        .collect();
    Some(Outcome {
        all_up,
        reports,
        server_cpu,
    })
}
