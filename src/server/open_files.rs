//! The process' limit on open files, which caps the connections a server
//! can hold: each one is a file descriptor. Linux distributions start
//! processes with a soft limit of 1024 and a hard one far above it, so a
//! server allowed 10,000 connections would stall at about a thousand
//! (`accept` failing with `EMFILE`, new clients left waiting). Any process
//! may raise its soft limit up to the hard one; Go's runtime does it at
//! start, nginx has `worker_rlimit_nofile`. The library never changes a
//! process-wide limit on its own: the application calls this (the
//! `echo-server` binary does, for `--max-connections`).

use std::io;

/// What [`raise_open_file_limit`] found and left. `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimit {
    /// The soft limit before the call.
    pub before: Option<u64>,
    /// The soft limit after it: what the process may open now.
    pub now: Option<u64>,
    /// The hard limit, past which only a privileged process may go.
    pub hard: Option<u64>,
}

impl OpenFileLimit {
    /// Whether the process may now have `wanted` files open.
    pub fn allows(&self, wanted: u64) -> bool {
        self.now.is_none_or(|now| now >= wanted)
    }
}

/// Raises the soft limit on open files to `wanted`, or to the hard limit
/// when that is lower; never lowers it. `Unsupported` where the platform
/// has no such limit this crate can set.
pub fn raise_open_file_limit(wanted: u64) -> io::Result<OpenFileLimit> {
    sys::raise(wanted)
}

/// Files a server needs besides its connections: per worker its poll
/// instance, its waker and its listener; then standard streams, a Redis
/// connection or two, a certificate being read again.
pub(crate) fn overhead(threads: usize) -> u64 {
    64 + 4 * threads as u64
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod sys {
    use std::io;

    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

    use super::OpenFileLimit;

    pub(super) fn raise(wanted: u64) -> io::Result<OpenFileLimit> {
        let old = getrlimit(Resource::Nofile);
        let target = match (old.current, old.maximum) {
            (None, _) => None,
            (Some(soft), hard) => Some(soft.max(hard.map_or(wanted, |hard| wanted.min(hard)))),
        };
        if target != old.current {
            setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: target,
                    maximum: old.maximum,
                },
            )?;
        }
        Ok(OpenFileLimit {
            before: old.current,
            now: getrlimit(Resource::Nofile).current,
            hard: old.maximum,
        })
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod sys {
    use std::io;

    use super::OpenFileLimit;

    pub(super) fn raise(_wanted: u64) -> io::Result<OpenFileLimit> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_allows_up_to_itself() {
        let limit = |now| OpenFileLimit {
            before: Some(1024),
            now,
            hard: None,
        };
        assert!(limit(Some(2000)).allows(2000));
        assert!(!limit(Some(2000)).allows(2001));
        assert!(limit(None).allows(u64::MAX));
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn the_soft_limit_is_raised_never_lowered() {
        // Asking for less than the soft limit leaves it as it is (this
        // test process' own limit: no other test depends on it being
        // lower).
        let now = raise_open_file_limit(0).unwrap();
        assert_eq!(now.now, now.before);
        let soft = now.now;
        // Asking for what it already allows changes nothing either.
        if let Some(soft) = soft {
            let again = raise_open_file_limit(soft).unwrap();
            assert_eq!(again.now, Some(soft));
        }
    }
}
