//! Deadlines from durations a caller gives: `Duration::MAX` reads as
//! "never", so a duration is capped at a century before it is added to an
//! `Instant` (where it would overflow and panic).

use std::time::{Duration, Instant};

/// The longest duration added to an `Instant`.
pub(crate) const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `t + d`, with `d` capped at [`CENTURY`].
pub(crate) fn after(t: Instant, d: Duration) -> Instant {
    t + d.min(CENTURY)
}
