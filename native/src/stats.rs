//! The counters of `CoreStats` (sdk/src/binding/types.ts), kept as atomics so the loops bump
//! them without taking the book's lock.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    pub claimed: AtomicU64,
    pub discarded: AtomicU64,
    pub deferred: AtomicU64,
    pub claim_round_trips: AtomicU64,
    pub reported: AtomicU64,
    pub rejected: AtomicU64,
    pub report_round_trips: AtomicU64,
    pub report_retries: AtomicU64,
    pub lease_extensions: AtomicU64,
    pub released: AtomicU64,
    pub reconnects: AtomicU64,
}

/// Adds to a counter. Relaxed: counters are independent and only read for reporting.
pub fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

/// `CoreStats` as it crosses the boundary.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub binding: &'static str,
    pub claimed: u64,
    pub discarded: u64,
    pub deferred: u64,
    pub claim_round_trips: u64,
    pub reported: u64,
    pub rejected: u64,
    pub report_round_trips: u64,
    pub report_retries: u64,
    pub lease_extensions: u64,
    pub released: u64,
    pub reconnects: u64,
    pub buffered: u64,
    pub in_flight: u64,
    pub claim_size: u64,
}

impl Counters {
    /// `book` is the (buffered, in flight, claim size) the book reports at the same instant.
    pub fn snapshot(&self, binding: &'static str, book: (usize, usize, usize)) -> Snapshot {
        let (buffered, in_flight, claim_size) = book;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            binding,
            claimed: get(&self.claimed),
            discarded: get(&self.discarded),
            deferred: get(&self.deferred),
            claim_round_trips: get(&self.claim_round_trips),
            reported: get(&self.reported),
            rejected: get(&self.rejected),
            report_round_trips: get(&self.report_round_trips),
            report_retries: get(&self.report_retries),
            lease_extensions: get(&self.lease_extensions),
            released: get(&self.released),
            reconnects: get(&self.reconnects),
            buffered: buffered as u64,
            in_flight: in_flight as u64,
            claim_size: claim_size as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_uses_the_contract_field_names() {
        let counters = Counters::default();
        add(&counters.claimed, 3);
        add(&counters.report_retries, 1);
        let json = serde_json::to_value(counters.snapshot("napi", (2, 1, 20))).unwrap();
        assert_eq!(json["binding"], "napi");
        assert_eq!(json["claimed"], 3);
        assert_eq!(json["reportRetries"], 1);
        assert_eq!(json["claimRoundTrips"], 0);
        assert_eq!(json["buffered"], 2);
        assert_eq!(json["inFlight"], 1);
        assert_eq!(json["claimSize"], 20);
        assert_eq!(json.as_object().unwrap().len(), 15);
    }
}
