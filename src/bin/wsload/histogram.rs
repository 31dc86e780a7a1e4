//! A fixed log-linear histogram of round-trip times, in nanoseconds.
//!
//! Values below 128 get a bucket each; above that, every power of two is
//! split into 64 equal buckets, so a value is known to within 1/64 of
//! itself (under 1.6 %) over the whole `u64` range. Recording is an index
//! computation and an increment: no allocation, no branch on the value's
//! size beyond a leading-zero count. The 3,776 counters (30 KiB) are
//! allocated once per thread.

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Enough buckets for `u64::MAX`.
pub const BUCKETS: usize = (64 - SUB_BITS as usize - 1) * SUB + 2 * SUB;

pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }

    #[inline]
    pub fn record(&mut self, value: u64) {
        self.counts[index(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0 to 1): the middle of the bucket holding
    /// the `ceil(q * count)`-th smallest value, never above the maximum.
    /// Zero when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (low, width) = bucket_range(i);
                return (low + (width - 1) / 2).min(self.max);
            }
        }
        self.max
    }
}

/// The bucket of `value`: `shift` is how many low bits the bucket ignores.
#[inline]
fn index(value: u64) -> usize {
    let shift = (64 - value.leading_zeros()).saturating_sub(SUB_BITS + 1);
    shift as usize * SUB + (value >> shift) as usize
}

/// The lowest value of bucket `i` and how many values it holds.
fn bucket_range(i: usize) -> (u64, u64) {
    let shift = (i / SUB).saturating_sub(1);
    let mantissa = (i - shift * SUB) as u64;
    (mantissa << shift, 1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_range_in_order() {
        assert_eq!(index(0), 0);
        assert_eq!(index(127), 127);
        assert_eq!(index(128), 128);
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        for i in 0..BUCKETS - 1 {
            let (low, width) = bucket_range(i);
            let (next, _) = bucket_range(i + 1);
            assert_eq!(low + width, next, "bucket {i}");
            assert_eq!(index(low), i);
            assert_eq!(index(low + width - 1), i);
        }
        let (low, width) = bucket_range(BUCKETS - 1);
        assert_eq!(low.wrapping_add(width), 0); // the last ends at u64::MAX
    }

    #[test]
    fn relative_error_is_below_one_in_64() {
        for v in [1_000u64, 38_000, 95_123, 1_234_567, 10_000_000_000] {
            let (low, width) = bucket_range(index(v));
            assert!(width as f64 / low as f64 <= 1.0 / 64.0, "{v}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.5), 0);
        for v in 1..=1000u64 {
            h.record(v * 1000); // 1 µs to 1 ms
        }
        let near =
            |got: u64, want: u64| (got as f64 - want as f64).abs() / want as f64 <= 1.0 / 64.0;
        assert!(near(h.quantile(0.5), 500_000), "{}", h.quantile(0.5));
        assert!(near(h.quantile(0.99), 990_000), "{}", h.quantile(0.99));
        assert_eq!(h.quantile(1.0), 1_000_000);
        assert_eq!(h.max(), 1_000_000);

        let mut other = Histogram::new();
        other.record(5);
        h.merge(&other);
        assert_eq!(h.count(), 1001);
        assert_eq!(h.quantile(0.0), 5);
    }
}
