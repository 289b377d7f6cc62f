//! Optional timing of the core's phases, for finding where a step's time goes (how the core's
//! batching and wake-ups were tuned: README.md, "Where the time goes"). Off unless
//! `TASKER_NATIVE_PROFILE=1`; then every core prints one table to stderr when it drains.
//!
//! Each phase keeps a count, a sum, a maximum and a log2 histogram in atomics, so recording
//! never takes a lock and costs a few relaxed atomic adds; when profiling is off it costs one
//! branch on a bool read once per core.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Histogram buckets: bucket i holds values in [2^(i-1), 2^i) (bucket 0: the value 0).
const BUCKETS: usize = 40;

/// One measured quantity (a duration in µs, or a size).
#[derive(Debug)]
pub struct Stat {
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Stat {
    fn default() -> Self {
        Self {
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Stat {
    pub fn record(&self, value: u64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.max.fetch_max(value, Ordering::Relaxed);
        let bucket = (u64::BITS - value.leading_zeros()) as usize;
        self.buckets[bucket.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    /// The upper bound of the bucket holding the `q` quantile (an estimate within 2×).
    fn quantile(&self, q: f64) -> u64 {
        let count = self.count.load(Ordering::Relaxed);
        let rank = ((count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= rank {
                return if i == 0 { 0 } else { (1u64 << i) - 1 };
            }
        }
        self.max.load(Ordering::Relaxed)
    }

    fn line(&self, name: &str, out: &mut String) {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            let _ = writeln!(out, "  {name:<34} -");
            return;
        }
        let mean = self.sum.load(Ordering::Relaxed) as f64 / count as f64;
        let _ = writeln!(
            out,
            "  {name:<34} n={count:<8} mean={mean:<10.1} p50<={:<8} p90<={:<8} p99<={:<8} max={}",
            self.quantile(0.5),
            self.quantile(0.9),
            self.quantile(0.99),
            self.max.load(Ordering::Relaxed)
        );
    }
}

/// Microseconds, saturating.
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The phases of a step's life in one core.
#[derive(Debug, Default)]
pub struct Profile {
    pub enabled: bool,
    /// `claim_steps` round trip (µs) and steps claimed per round trip.
    pub claim_round_trip: Stat,
    pub claim_size: Stat,
    /// Time from a claim landing in the buffer to `next()` handing the step out (µs).
    pub buffer_wait: Stat,
    /// How long a `next()` that found the buffer empty waited for a step (µs; only those that got one).
    pub next_wait: Stat,
    /// From handed out to its report queued: the handler plus both crossings (µs).
    pub in_flight: Stat,
    /// From queued to taken into a flush (µs).
    pub report_queue_wait: Stat,
    /// `report_steps` round trip (µs) and reports per round trip.
    pub report_round_trip: Stat,
    pub report_size: Stat,
    /// From queued to its result handed back (µs).
    pub report_latency: Stat,
}

impl Profile {
    pub fn from_env() -> Self {
        let enabled = matches!(
            std::env::var("TASKER_NATIVE_PROFILE").as_deref(),
            Ok("1") | Ok("true") | Ok("on")
        );
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// Records when profiling is on.
    pub fn record(&self, stat: &Stat, value: u64) {
        if self.enabled {
            stat.record(value);
        }
    }

    pub fn report(&self, worker_id: &str) -> String {
        let mut out = format!("[tasker-native] profile of worker {worker_id} (µs unless a size)\n");
        let rows: [(&str, &Stat); 9] = [
            ("claim round trip", &self.claim_round_trip),
            ("steps per claim", &self.claim_size),
            ("buffer wait (claimed → handed out)", &self.buffer_wait),
            ("next() wait for a step", &self.next_wait),
            ("in flight (handed out → reported)", &self.in_flight),
            ("report queue wait", &self.report_queue_wait),
            ("report round trip", &self.report_round_trip),
            ("reports per round trip", &self.report_size),
            ("report latency (queued → answered)", &self.report_latency),
        ];
        for (name, stat) in rows {
            stat.line(name, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_summarise_and_quantiles_bound_the_value() {
        let stat = Stat::default();
        for v in [0, 1, 3, 100, 1000] {
            stat.record(v);
        }
        assert_eq!(stat.count.load(Ordering::Relaxed), 5);
        assert_eq!(stat.max.load(Ordering::Relaxed), 1000);
        assert!(stat.quantile(0.5) >= 3 && stat.quantile(0.5) < 8);
        assert!(stat.quantile(1.0) >= 1000);
        let mut out = String::new();
        stat.line("x", &mut out);
        assert!(out.contains("n=5"));
    }

    #[test]
    fn a_disabled_profile_records_nothing() {
        let profile = Profile::default();
        profile.record(&profile.claim_size, 3);
        assert_eq!(profile.claim_size.count.load(Ordering::Relaxed), 0);
        assert!(profile.report("w").contains("steps per claim"));
    }
}
