//! CPU time from /proc, for every mode: the calling thread's (wsload's own
//! cost, `cpu=`) and a whole process's over the measured window (the
//! server's, `--server-pid`), with the summary fields that report it.
//!
//! A process's total comes from the scheduler's statistics, exact to the
//! nanosecond: the first field of /proc/PID/task/TID/schedstat, per thread.
//! It is summed per thread between the window's two samples, so a thread
//! that starts in the window counts from zero and one that ends in it does
//! not make the total go backwards (it takes only its last moments along).
//!
//! The split between user space and the kernel (system calls, and the
//! loopback TCP work done on the process's behalf) comes from the `utime`
//! and `stime` fields of /proc/PID/stat. The kernel scales those two so
//! that they add up to the exact total and splits it in the proportion of
//! the timer ticks that found the process in each, so over a window of a
//! few seconds their ratio is good to about a percent of the total.

use std::thread;
use std::time::{Duration, Instant};

use crate::driver::Schedule;

/// The calling thread's time on a CPU so far, from the scheduler's
/// statistics; `None` where /proc does not have them.
pub fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The calling thread's CPU time over the measured window, sampled by its
/// loop at every turn.
#[derive(Debug, Default)]
pub struct WindowCpu {
    /// The thread's CPU time when the window opened, once it has.
    from: Option<Option<Duration>>,
    ended: bool,
    used: Option<Duration>,
}

impl WindowCpu {
    /// Takes the readings the window needs at `now`; true once, at the
    /// first turn past the window's end.
    pub fn sample(&mut self, now: Instant, schedule: &Schedule) -> bool {
        if self.from.is_none() && now >= schedule.measure_from {
            self.from = Some(thread_cpu());
        }
        if self.ended || now < schedule.measure_to {
            return false;
        }
        self.ended = true;
        if let Some(Some(from)) = self.from {
            self.used = thread_cpu().map(|to| to.saturating_sub(from));
        }
        true
    }

    /// CPU time used in the window, once it ended (if /proc could tell).
    pub fn used(&self) -> Option<Duration> {
        self.used
    }
}

/// A process's CPU use over the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessCpu {
    /// CPU seconds of all its threads, from the scheduler's run time.
    pub secs: f64,
    /// The share of user space in it, from 0 to 1, from utime and stime
    /// (`None` if /proc could not tell or no time was charged to either).
    pub user_share: Option<f64>,
}

impl ProcessCpu {
    /// User and kernel CPU seconds, splitting the exact total by the
    /// shares.
    pub fn user_sys(&self) -> Option<(f64, f64)> {
        self.user_share
            .map(|u| (self.secs * u, self.secs * (1.0 - u)))
    }
}

/// CPU time (all threads) of process `pid` over the window; `None` if /proc
/// cannot tell. Sampled from this thread, which sleeps in between.
pub fn process_cpu(pid: u32, schedule: Schedule) -> Option<ProcessCpu> {
    thread::sleep(
        schedule
            .measure_from
            .saturating_duration_since(Instant::now()),
    );
    let ticks0 = user_and_kernel_ticks(pid);
    let (t0, threads0) = (Instant::now(), thread_times(pid));
    thread::sleep(
        schedule
            .measure_to
            .saturating_duration_since(Instant::now()),
    );
    let (t1, threads1) = (Instant::now(), thread_times(pid));
    let ticks1 = user_and_kernel_ticks(pid);
    // Scaled to the window in case this thread woke late.
    let wall = t1.duration_since(t0).as_secs_f64();
    let window = (schedule.measure_to - schedule.measure_from).as_secs_f64();
    let used = cpu_between(&threads0?, &threads1?) as f64 / 1e9;
    Some(ProcessCpu {
        secs: used * window / wall.max(1e-9),
        user_share: ticks0.zip(ticks1).and_then(|(a, b)| user_share(a, b)),
    })
}

/// The summary's server fields for `msgs` messages over `secs`:
/// ` server_cpu=… server_ns_per_msg=… server_user_ns_per_msg=…
/// server_kernel_ns_per_msg=…`, each `-` where /proc could not tell.
pub fn server_fields(server: Option<ProcessCpu>, msgs: u64, secs: f64) -> String {
    let Some(cpu) = server else {
        return " server_cpu=- server_ns_per_msg=- server_user_ns_per_msg=- \
                server_kernel_ns_per_msg=-"
            .to_owned();
    };
    if msgs == 0 {
        // No message to share the time among: a 0 here would read as the
        // fastest run of all.
        return format!(
            " server_cpu={:.2} server_ns_per_msg=- server_user_ns_per_msg=- \
             server_kernel_ns_per_msg=-",
            cpu.secs / secs
        );
    }
    let per_msg = cpu.secs * 1e9 / msgs as f64;
    let mut line = format!(
        " server_cpu={:.2} server_ns_per_msg={per_msg:.0}",
        cpu.secs / secs
    );
    match cpu.user_share {
        Some(u) => {
            line += &format!(
                " server_user_ns_per_msg={:.0} server_kernel_ns_per_msg={:.0}",
                per_msg * u,
                per_msg * (1.0 - u)
            )
        }
        None => line += " server_user_ns_per_msg=- server_kernel_ns_per_msg=-",
    }
    line
}

/// (thread id, nanoseconds on a CPU so far) of each thread of `pid`,
/// sorted by thread id.
fn thread_times(pid: u32) -> Option<Vec<(u32, u64)>> {
    let mut times = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let entry = entry.ok()?;
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A thread that exits now is simply missing from this sample.
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = text.split_whitespace().next().and_then(|f| f.parse().ok()) {
            times.push((tid, ns));
        }
    }
    times.sort_unstable();
    Some(times)
}

/// CPU time used between two samples by the threads alive at the second.
fn cpu_between(before: &[(u32, u64)], after: &[(u32, u64)]) -> u64 {
    after
        .iter()
        .map(|&(tid, ns)| {
            let earlier = before
                .binary_search_by_key(&tid, |&(t, _)| t)
                .map_or(0, |i| before[i].1);
            ns.saturating_sub(earlier)
        })
        .sum()
}

/// User and kernel time of all of `pid`'s threads so far, in clock ticks.
fn user_and_kernel_ticks(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Fields 14 (utime) and 15 (stime) of a /proc/PID/stat line. The command
/// name (field 2) is in parentheses and may itself hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_stat(line: &str) -> Option<(u64, u64)> {
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // fields 3 to 13
    let utime = fields.next()?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// The share of user time between two samples, if any time passed.
fn user_share(from: (u64, u64), to: (u64, u64)) -> Option<f64> {
    let user = to.0.checked_sub(from.0)?;
    let kernel = to.1.checked_sub(from.1)?;
    let total = user + kernel;
    (total > 0).then(|| user as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_found_after_the_command_name() {
        let line = "4242 (echo (server) x) S 1 4242 4242 0 -1 4194560 312 0 0 0 \
                    153 2817 0 0 20 0 1 0 1234 12345678 567 18446744073709551615";
        assert_eq!(parse_stat(line), Some((153, 2817)));
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 731 268 0 0 20 0 1 0";
        assert_eq!(parse_stat(line), Some((731, 268)));
        assert_eq!(parse_stat("4242 (cut) S 1 2 3"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn user_share_over_a_window() {
        assert_eq!(user_share((100, 900), (150, 1850)), Some(0.05));
        assert_eq!(user_share((100, 900), (100, 900)), None);
        assert_eq!(user_share((100, 900), (90, 950)), None);
    }

    #[test]
    fn threads_that_come_and_go_are_counted_per_thread() {
        let before = [(10, 1_000), (11, 5_000), (12, 7_000)];
        // 11 exited; 13 started in the window.
        let after = [(10, 1_500), (12, 7_250), (13, 40)];
        assert_eq!(cpu_between(&before, &after), 500 + 250 + 40);
        assert_eq!(cpu_between(&before, &before), 0);
    }

    #[test]
    fn this_process_has_threads_ticks_and_cpu() {
        let pid = std::process::id();
        let times = thread_times(pid).unwrap();
        assert!(times.iter().any(|&(tid, _)| tid == pid));
        assert!(times.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(user_and_kernel_ticks(pid).is_some());
        assert_eq!(thread_times(u32::MAX), None);
        assert!(thread_cpu().unwrap() > Duration::ZERO);
    }

    #[test]
    fn the_split_divides_the_total() {
        let cpu = ProcessCpu {
            secs: 2.0,
            user_share: Some(0.25),
        };
        assert_eq!(cpu.user_sys(), Some((0.5, 1.5)));
        let none = ProcessCpu {
            secs: 2.0,
            user_share: None,
        };
        assert_eq!(none.user_sys(), None);
    }

    #[test]
    fn server_fields_give_the_total_and_its_split_per_message() {
        let cpu = ProcessCpu {
            secs: 0.005,
            user_share: Some(0.25),
        };
        assert_eq!(
            server_fields(Some(cpu), 500, 5.0),
            " server_cpu=0.00 server_ns_per_msg=10000 server_user_ns_per_msg=2500 \
             server_kernel_ns_per_msg=7500"
        );
        let unsplit = ProcessCpu {
            user_share: None,
            ..cpu
        };
        assert!(server_fields(Some(unsplit), 500, 5.0).ends_with(
            " server_ns_per_msg=10000 server_user_ns_per_msg=- server_kernel_ns_per_msg=-"
        ));
        assert_eq!(
            server_fields(Some(cpu), 0, 5.0),
            " server_cpu=0.00 server_ns_per_msg=- server_user_ns_per_msg=- \
             server_kernel_ns_per_msg=-",
            "no messages: no time per message"
        );
        assert_eq!(
            server_fields(None, 500, 5.0),
            " server_cpu=- server_ns_per_msg=- server_user_ns_per_msg=- \
             server_kernel_ns_per_msg=-"
        );
    }
}
