//! Deadlines for many connections at O(log n) per change, none per message.
//!
//! Each connection has at most one live entry: the earliest time its state
//! needs a look (handshake deadline, idle or ping check, close deadline).
//! Activity never touches the heap; when an entry fires, the worker looks at
//! the connection, acts if something is really due, and schedules the next
//! look. Entries made stale by a reschedule or a closed connection are
//! recognised by their stamp and skipped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::prelude::rust_2021::*;
use std::time::Instant;

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
    /// proportional to the connections.
    pub(crate) fn compact(&mut self, live: impl Fn(usize, u64) -> bool) {
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .filter(|Reverse((_, slot, stamp))| live(*slot, *stamp))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        t.compact(|slot, _| slot != 1);
        assert_eq!(t.len(), 0);
    }
}
