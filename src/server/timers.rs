//! Deadlines for many connections at O(log n) per change, none per message,
//! and the timers handlers set.
//!
//! Each connection has at most one live entry: the earliest time its state
//! needs a look (handshake deadline, idle or ping check, close deadline).
//! Activity never touches the heap; when an entry fires, the worker looks at
//! the connection, acts if something is really due, and schedules the next
//! look. Entries made stale by a reschedule or a closed connection are
//! recognised by their stamp and skipped.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::prelude::rust_2021::*;
use std::time::{Duration, Instant};

use crate::deadline::after;

/// A min-heap of `(when, slot, stamp)`.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl Timers {
    pub(crate) fn schedule(&mut self, when: Instant, slot: usize, stamp: u64) {
        self.heap.push(Reverse((when, slot, stamp)));
    }

    /// The earliest entry's time, stale or not.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((when, _, _))| *when)
    }

    /// Removes and returns an entry due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u64)> {
        match self.heap.peek() {
            Some(Reverse((when, _, _))) if *when <= now => {
                self.heap.pop().map(|Reverse(entry)| entry)
            }
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Drops stale entries when they outnumber live ones, keeping memory
    /// proportional to the connections. `live(when, slot, stamp)` says
    /// whether an entry is the one its connection has booked.
    pub(crate) fn compact(&mut self, live: impl Fn(Instant, usize, u64) -> bool) {
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .filter(|Reverse((when, slot, stamp))| live(*when, *slot, *stamp))
            .collect();
    }
}

/// Identifies a timer set by a handler, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(u64);

struct HandlerTimer {
    token: u64,
    /// Repeats with this period, on a fixed schedule.
    period: Option<Duration>,
}

/// Timers a handler sets: one-shot or repeating, each firing
/// [`Handler::on_timer`](super::Handler::on_timer) with its token.
#[derive(Default)]
pub(crate) struct HandlerTimers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    live: HashMap<u64, HandlerTimer>,
    next_id: u64,
}

impl HandlerTimers {
    pub(crate) fn set(&mut self, at: Instant, token: u64, period: Option<Duration>) -> TimerId {
        self.next_id += 1;
        let id = self.next_id;
        self.live.insert(id, HandlerTimer { token, period });
        self.heap.push(Reverse((at, id)));
        TimerId(id)
    }

    /// Cancels a timer; false if it already fired (one-shot) or was
    /// cancelled.
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        let removed = self.live.remove(&id.0).is_some();
        if self.heap.len() > 2 * self.live.len() + 64 {
            let live = &self.live;
            let entries = std::mem::take(&mut self.heap).into_vec();
            self.heap = entries
                .into_iter()
                .filter(|Reverse((_, id))| live.contains_key(id))
                .collect();
        }
        removed
    }

    /// When the next live timer is due (cancelled ones are dropped here).
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if self.live.contains_key(&id) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// The token of a timer due at `now`, rescheduling a repeating one.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<u64> {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if at > now {
                return None;
            }
            self.heap.pop();
            let Some(timer) = self.live.get(&id) else {
                continue; // cancelled
            };
            let token = timer.token;
            match timer.period {
                Some(period) if !period.is_zero() => {
                    // The next tick on the schedule after now: a late
                    // wake-up skips ticks rather than bunching them. (So
                    // many ticks late that the count overflows: a period
                    // from now.)
                    let ticks = now.duration_since(at).as_nanos() / period.as_nanos() + 1;
                    let next = u32::try_from(ticks)
                        .ok()
                        .and_then(|n| period.checked_mul(n))
                        .and_then(|d| at.checked_add(d))
                        .unwrap_or_else(|| after(now, period));
                    self.heap.push(Reverse((next, id)));
                }
                _ => {
                    self.live.remove(&id);
                }
            }
            return Some(token);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_timers_fire_repeat_and_cancel() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut t = HandlerTimers::default();
        let once = t.set(t0 + s, 1, None);
        let every = t.set(t0 + s, 2, Some(s));
        let gone = t.set(t0 + 2 * s, 3, None);
        assert!(t.cancel(gone));
        assert!(!t.cancel(gone));
        assert_eq!(t.pop_due(t0), None);
        let mut fired = vec![t.pop_due(t0 + s).unwrap(), t.pop_due(t0 + s).unwrap()];
        fired.sort_unstable();
        assert_eq!(fired, [1, 2]);
        assert_eq!(t.pop_due(t0 + s), None);
        assert!(!t.cancel(once), "a one-shot timer that fired is gone");
        // Woken 3.5 periods late: one tick now, the next on the schedule.
        assert_eq!(t.pop_due(t0 + s * 5 + s / 2), Some(2));
        assert_eq!(t.next_deadline(), Some(t0 + 6 * s));
        assert!(t.cancel(every));
        assert_eq!(t.pop_due(t0 + 100 * s), None);
    }

    #[test]
    fn a_tiny_period_far_behind_fires_once_per_turn() {
        // 1 ns, 5 s late: 5e9 ticks missed, more than a u32 counts. It
        // once wrapped to a next tick at the same instant, due forever.
        let t0 = Instant::now();
        let mut t = HandlerTimers::default();
        t.set(t0, 9, Some(Duration::from_nanos(1)));
        let now = t0 + Duration::from_secs(5);
        assert_eq!(t.pop_due(now), Some(9));
        assert_eq!(t.pop_due(now), None);
        assert!(t.next_deadline().is_some_and(|next| next > now));
        // A period too long to add to an Instant does not panic.
        let mut t = HandlerTimers::default();
        t.set(after(t0, Duration::MAX), 1, Some(Duration::MAX));
        t.set(t0, 2, Some(Duration::MAX));
        assert_eq!(t.pop_due(t0), Some(2));
        assert_eq!(t.pop_due(after(t0, Duration::from_secs(3600))), None);
    }

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.schedule(t0 + Duration::from_secs(3), 1, 0);
        t.schedule(t0 + Duration::from_secs(1), 2, 0);
        t.schedule(t0 + Duration::from_secs(2), 3, 7);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None);
        let now = t0 + Duration::from_secs(2);
        assert_eq!(t.pop_due(now), Some((t0 + Duration::from_secs(1), 2, 0)));
        assert_eq!(t.pop_due(now), Some((t0 + Duration::from_secs(2), 3, 7)));
        assert_eq!(t.pop_due(now), None);
        t.compact(|_, slot, _| slot != 1);
        assert_eq!(t.len(), 0);
    }
}
