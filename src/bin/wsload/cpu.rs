//! CPU time from /proc: the calling thread's (wsload's own cost) and a
//! whole process's over the measured window (the server's, `--server-pid`).

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
    /// The shares of user and kernel mode in it, from the tick-sampled
    /// utime and stime (`None` if no tick fell in the window).
    pub user_share: Option<f64>,
}

/// CPU time (all threads) of process `pid` over the window; `None` if /proc
/// cannot tell. Sampled from this thread, which sleeps in between.
pub fn process_cpu(pid: u32, schedule: Schedule) -> Option<ProcessCpu> {
    thread::sleep(
        schedule
            .measure_from
            .saturating_duration_since(Instant::now()),
    );
    let (t0, ns0, ticks0) = (Instant::now(), process_cpu_ns(pid), user_sys_ticks(pid));
    thread::sleep(
        schedule
            .measure_to
            .saturating_duration_since(Instant::now()),
    );
    let (t1, ns1, ticks1) = (Instant::now(), process_cpu_ns(pid), user_sys_ticks(pid));
    let used = ns1?.checked_sub(ns0?)? as f64 / 1e9;
    // Scaled to the window in case this thread woke late.
    let wall = t1.duration_since(t0).as_secs_f64();
    let window = (schedule.measure_to - schedule.measure_from).as_secs_f64();
    let user_share = ticks0.zip(ticks1).and_then(|((u0, s0), (u1, s1))| {
        let (user, sys) = (u1.checked_sub(u0)?, s1.checked_sub(s0)?);
        (user + sys > 0).then(|| user as f64 / (user + sys) as f64)
    });
    Some(ProcessCpu {
        secs: used * window / wall.max(1e-9),
        user_share,
    })
}

impl ProcessCpu {
    /// User and kernel CPU seconds, splitting the precise total by the
    /// ticks' shares.
    pub fn user_sys(&self) -> Option<(f64, f64)> {
        self.user_share
            .map(|u| (self.secs * u, self.secs * (1.0 - u)))
    }
}

/// Nanoseconds the threads of `pid` have spent on a CPU: the first field
/// of each /proc/PID/task/TID/schedstat.
fn process_cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = entry.ok()?.path().join("schedstat");
        // A thread that just exited takes its time with it.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// utime and stime of process `pid` (all its threads), in ticks.
fn user_sys_ticks(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_user_sys(&text)
}

/// Fields 14 and 15 of a /proc/PID/stat line; the command name (field 2)
/// is in parentheses and may hold spaces, so counting starts after it.
fn parse_user_sys(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // fields 3..=13
    let user = fields.next()?.parse().ok()?;
    let sys = fields.next()?.parse().ok()?;
    Some((user, sys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_sys_ticks_come_after_the_command_name() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 731 268 0 0 20 0 1 0";
        assert_eq!(parse_user_sys(line), Some((731, 268)));
        assert_eq!(parse_user_sys("4242 (x) S 1"), None);
    }

    #[test]
    fn this_process_has_run() {
        let me = std::process::id();
        assert!(process_cpu_ns(me).unwrap() > 0);
        assert!(user_sys_ticks(me).is_some());
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
}
