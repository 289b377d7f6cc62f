//! The core's bookkeeping of leases it holds: the prefetch buffer (claimed, waiting for
//! `next()`), the steps in flight (handed out, not yet reported) and the abort set. Pure data,
//! no I/O, so every rule of docs/bindings.md about them is unit-tested here: bounded prefetch,
//! the claim size's signals (claim_size.rs), lease adoption, heartbeat aborts, leases lapsing by
//! the core's own clock, and which delivery a report must quote.
//!
//! The core keeps one `Book` behind a mutex that is only held for these short, non-async calls.

use crate::claim_size::ClaimSize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// One lease, as `extend_leases` / `release_leases` want it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub step_id: String,
    pub attempt: i32,
    pub delivery: i32,
}

/// A claimed step waiting in the buffer. `json` is the `ClaimedStep` exactly as the database
/// built it; the core never parses it, only passes it through to `next()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedStep {
    pub lease: Lease,
    pub namespace: Arc<str>,
    pub json: String,
    /// When the claim returned it (for the profile's buffer wait).
    pub claimed_at: Instant,
    /// By when the lease has certainly expired on the server: when the round trip that granted
    /// it was sent, plus the lease (the server counts from its own, later, start of statement),
    /// so no clock shared with the server is needed.
    pub lease_until: Instant,
}

/// A step handed out by `take`.
#[derive(Debug)]
pub struct Handed {
    pub json: String,
    pub claimed_at: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct InFlight {
    attempt: i32,
    delivery: i32,
    namespace: Arc<str>,
    /// When it was handed out (for the profile's time in flight).
    handed_at: Instant,
    /// As `ClaimedStep::lease_until`, moved on by heartbeats and adoptions.
    lease_until: Instant,
    /// Already put in the abort set for this delivery (so it is reported once, not on every
    /// heartbeat).
    abort_signalled: bool,
    /// Its report is queued: no handler runs any more, so nothing is aborted or abandoned, while
    /// the lease is still extended until the report commits.
    reporting: bool,
}

/// One row of `extend_leases`, paired with the lease that was asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub lease: Lease,
    pub extended: bool,
    pub abort: bool,
}

/// What a claim's steps did to the book.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// New steps put in the buffer.
    pub buffered: usize,
    /// Steps already in flight whose new lease was adopted by the running handler.
    pub adopted: usize,
    /// Steps already in the buffer whose entry was replaced by the newer delivery.
    pub replaced: usize,
    /// Steps in flight under an older attempt that left flight for the new one (buffered).
    pub superseded: usize,
}

/// What a heartbeat's answer did to the book.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeartbeatEffect {
    pub extended: usize,
    /// Buffered steps dropped because their lease is gone or their task stopped.
    pub dropped: usize,
    /// In-flight steps newly added to the abort set.
    pub aborted: usize,
}

#[derive(Debug)]
pub struct Book {
    prefetch: usize,
    size: ClaimSize,
    buffer: VecDeque<ClaimedStep>,
    in_flight: HashMap<String, InFlight>,
    /// Buffer slots promised to claims under way, so concurrent namespace loops never claim more
    /// than `prefetch` between them.
    reserved: usize,
    aborted: Vec<String>,
    /// Steps in flight whose lease lapsed by the core's clock (`expire`): their handlers stop and
    /// are not reported, the step being someone else's by now.
    lapsed: Vec<String>,
}

impl Book {
    /// `prefetch` bounds the buffer; claims start at `batch` steps and grow up to `max_batch`.
    pub fn new(prefetch: usize, batch: usize, max_batch: usize) -> Self {
        Self {
            prefetch,
            size: ClaimSize::new(batch, max_batch),
            // Grows as needed: a huge prefetch must not allocate up front.
            buffer: VecDeque::with_capacity(prefetch.min(1024)),
            in_flight: HashMap::new(),
            reserved: 0,
            aborted: Vec::new(),
            lapsed: Vec::new(),
        }
    }

    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Steps the next claim asks for: the claim size, at most `prefetch`.
    pub fn batch(&self) -> usize {
        self.size.current().min(self.prefetch)
    }

    /// Reserves buffer room for a claim of up to `want` steps: `min(want, room())`. The caller
    /// must hand the reservation back with `accept` or `unreserve`.
    pub fn reserve(&mut self, want: usize) -> usize {
        let granted = want.min(self.room());
        self.reserved += granted;
        granted
    }

    /// Buffer slots neither filled nor promised to a claim under way. The buffer holds two
    /// claims' worth (one being handed out while the next is claimed), at most `prefetch`.
    pub fn room(&self) -> usize {
        (2 * self.size.current())
            .min(self.prefetch)
            .saturating_sub(self.buffer.len() + self.reserved)
    }

    /// Reserves room for a full claim (`batch()` steps), or nothing while less room is free
    /// (why: claim_loop.rs, `wait_for_room`). Waiting for a whole batch costs no handler
    /// anything: the rest of the buffer is still there to hand out.
    pub fn reserve_full(&mut self) -> usize {
        let full = self.batch();
        if full == 0 || self.room() < full {
            return 0;
        }
        self.reserve(full)
    }

    pub fn unreserve(&mut self, reserved: usize) {
        self.reserved = self.reserved.saturating_sub(reserved);
    }

    /// Takes in the steps of a claim made under a reservation of `reserved` slots. A step
    /// already in flight here under the same attempt is *adopted*: the running handler takes
    /// over the new lease and the step is not handed out again (one run at a time). Another
    /// attempt is another run: the one in flight has ended in a report whose answer is not read
    /// yet (its retry was claimed meanwhile), so it leaves flight and the new attempt is buffered
    /// (adopting it would leave it leased with no handler and its old report's answer finishing
    /// nothing). A step already buffered (its lease expired while buffered and this core claimed
    /// it again) is replaced by the newer delivery.
    pub fn accept(&mut self, reserved: usize, steps: Vec<ClaimedStep>) -> Accepted {
        self.unreserve(reserved);
        let mut accepted = Accepted::default();
        for step in steps {
            let id = step.lease.step_id.as_str();
            if let Some(running) = self.in_flight.get_mut(id) {
                if running.attempt == step.lease.attempt {
                    running.delivery = step.lease.delivery;
                    running.lease_until = step.lease_until;
                    running.abort_signalled = false;
                    accepted.adopted += 1;
                    continue;
                }
                self.in_flight.remove(id);
                self.aborted.retain(|aborted| aborted != id);
                self.lapsed.retain(|lapsed| lapsed != id);
                accepted.superseded += 1;
            }
            if let Some(waiting) = self
                .buffer
                .iter_mut()
                .find(|b| b.lease.step_id == step.lease.step_id)
            {
                *waiting = step;
                accepted.replaced += 1;
            } else {
                self.buffer.push_back(step);
                accepted.buffered += 1;
            }
        }
        accepted
    }

    /// A claim loop's claim came back with every step it asked for (`full`) or fewer.
    pub fn claim_returned(&mut self, full: bool) {
        self.size.claim_returned(full);
    }

    /// Hands out up to `max` buffered steps (FIFO); they are in flight from `now` on. Feeds the
    /// claim size: how long each waited, and whether the caller went short while a claim was
    /// under way. A step whose lease has lapsed by `now` is dropped, never handed out.
    pub fn take(&mut self, max: usize, now: Instant) -> Vec<Handed> {
        self.expire(now);
        let count = max.min(self.buffer.len());
        if count < max && self.reserved > 0 {
            self.size.starved();
        }
        let mut out = Vec::with_capacity(count);
        for step in self.buffer.drain(..count) {
            self.size
                .waited(now.saturating_duration_since(step.claimed_at));
            self.in_flight.insert(
                step.lease.step_id,
                InFlight {
                    attempt: step.lease.attempt,
                    delivery: step.lease.delivery,
                    namespace: step.namespace,
                    handed_at: now,
                    lease_until: step.lease_until,
                    abort_signalled: false,
                    reporting: false,
                },
            );
            out.push(Handed {
                json: step.json,
                claimed_at: step.claimed_at,
            });
        }
        out
    }

    /// When the step in flight under `(step_id, attempt)` was handed out.
    pub fn handed_at(&self, step_id: &str, attempt: i32) -> Option<Instant> {
        self.in_flight
            .get(step_id)
            .filter(|f| f.attempt == attempt)
            .map(|f| f.handed_at)
    }

    /// Every lease held: buffered and in flight (what a heartbeat extends).
    pub fn leases(&self) -> Vec<Lease> {
        self.buffer
            .iter()
            .map(|b| b.lease.clone())
            .chain(self.in_flight.iter().map(|(id, f)| Lease {
                step_id: id.clone(),
                attempt: f.attempt,
                delivery: f.delivery,
            }))
            .collect()
    }

    /// Applies a heartbeat's answer; `lease_until` is when its round trip was sent plus the
    /// lease. Rows whose lease no longer matches the book (adopted or reported meanwhile) are
    /// ignored: they describe a lease this core has moved on from.
    pub fn apply_heartbeat(&mut self, rows: &[Extension], lease_until: Instant) -> HeartbeatEffect {
        let mut effect = HeartbeatEffect::default();
        for row in rows {
            if row.extended {
                effect.extended += 1;
                self.extend_until(&row.lease, lease_until);
            }
            if !row.abort {
                continue;
            }
            let lease = &row.lease;
            if let Some(running) = self.in_flight.get_mut(&lease.step_id) {
                if running.attempt == lease.attempt
                    && running.delivery == lease.delivery
                    && !running.abort_signalled
                    && !running.reporting
                {
                    running.abort_signalled = true;
                    self.aborted.push(lease.step_id.clone());
                    effect.aborted += 1;
                }
            } else if let Some(index) = self.buffer.iter().position(|b| &b.lease == lease) {
                self.buffer.remove(index);
                effect.dropped += 1;
            }
        }
        effect
    }

    fn extend_until(&mut self, lease: &Lease, lease_until: Instant) {
        if let Some(running) = self.in_flight.get_mut(&lease.step_id) {
            if running.attempt == lease.attempt && running.delivery == lease.delivery {
                running.lease_until = running.lease_until.max(lease_until);
            }
        } else if let Some(waiting) = self.buffer.iter_mut().find(|b| &b.lease == lease) {
            waiting.lease_until = waiting.lease_until.max(lease_until);
        }
    }

    /// Leases lapsed by `now` (heartbeats failed or never answered, as when the database is
    /// unreachable; another worker may have the step by now): buffered steps are dropped, running
    /// steps join the lapsed set once. Returns how many buffered steps were dropped.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.buffer.len();
        self.buffer.retain(|b| b.lease_until > now);
        for (id, running) in self.in_flight.iter_mut() {
            if running.lease_until <= now && !running.abort_signalled && !running.reporting {
                running.abort_signalled = true;
                self.lapsed.push(id.clone());
            }
        }
        before - self.buffer.len()
    }

    /// Step ids whose handlers should stop, learned since the last call.
    pub fn take_aborted(&mut self) -> Vec<String> {
        std::mem::take(&mut self.aborted)
    }

    /// Step ids whose lease lapsed by the core's clock while their handler ran, since the last
    /// call: those handlers stop without reporting.
    pub fn take_lapsed(&mut self) -> Vec<String> {
        std::mem::take(&mut self.lapsed)
    }

    /// The delivery a report for `(step_id, attempt)` must quote: the current one of the running
    /// handler (which may have adopted a newer lease than the one it was handed), or the
    /// report's own when the step is not in flight here under that attempt.
    pub fn delivery_for(&self, step_id: &str, attempt: i32, reported: i32) -> i32 {
        match self.in_flight.get(step_id) {
            Some(running) if running.attempt == attempt => running.delivery,
            _ => reported,
        }
    }

    /// The report of `(step_id, attempt)` was queued: its handler has finished (see
    /// `InFlight::reporting`). The pg binding's `startReport`.
    pub fn start_report(&mut self, step_id: &str, attempt: i32) {
        if let Some(running) = self.in_flight.get_mut(step_id) {
            if running.attempt == attempt {
                running.reporting = true;
                self.aborted.retain(|id| id != step_id);
                self.lapsed.retain(|id| id != step_id);
            }
        }
    }

    /// The handler of `(step_id, attempt)` was abandoned: the step leaves flight unreported.
    /// False when it is not running here under that attempt (its report is queued, say).
    pub fn abandon(&mut self, step_id: &str, attempt: i32) -> bool {
        match self.in_flight.get(step_id) {
            Some(running) if running.attempt == attempt && !running.reporting => {
                self.finish(step_id, attempt)
            }
            _ => false,
        }
    }

    /// The namespace of a step in flight.
    pub fn namespace_of(&self, step_id: &str) -> Option<Arc<str>> {
        self.in_flight.get(step_id).map(|f| f.namespace.clone())
    }

    /// A report for `(step_id, attempt)` was committed: the step is no longer in flight. A
    /// report for another attempt (a stale duplicate) leaves the running attempt alone.
    pub fn finish(&mut self, step_id: &str, attempt: i32) -> bool {
        match self.in_flight.get(step_id) {
            Some(running) if running.attempt == attempt => {
                self.in_flight.remove(step_id);
                self.aborted.retain(|id| id != step_id);
                self.lapsed.retain(|id| id != step_id);
                true
            }
            _ => false,
        }
    }

    /// Empties the buffer (draining gives these leases back).
    pub fn drain_buffer(&mut self) -> Vec<ClaimedStep> {
        self.buffer.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, attempt: i32, delivery: i32) -> ClaimedStep {
        ClaimedStep {
            lease: Lease {
                step_id: id.to_owned(),
                attempt,
                delivery,
            },
            namespace: Arc::from("ns"),
            json: format!(r#"{{"stepId":"{id}","delivery":{delivery}}}"#),
            claimed_at: Instant::now(),
            lease_until: Instant::now() + std::time::Duration::from_secs(30),
        }
    }

    fn later() -> Instant {
        Instant::now() + std::time::Duration::from_secs(30)
    }

    /// A book whose claims never change size: the buffer is bounded by `prefetch` alone.
    fn fixed(prefetch: usize) -> Book {
        Book::new(prefetch, prefetch.max(1), prefetch.max(1))
    }

    fn ext(id: &str, attempt: i32, delivery: i32, extended: bool, abort: bool) -> Extension {
        Extension {
            lease: Lease {
                step_id: id.to_owned(),
                attempt,
                delivery,
            },
            extended,
            abort,
        }
    }

    #[test]
    fn reservations_bound_the_buffer() {
        let mut book = fixed(5);
        assert_eq!(book.reserve(3), 3);
        assert_eq!(book.reserve(3), 2, "a second loop only gets what is left");
        assert_eq!(book.reserve(1), 0);
        book.accept(3, vec![step("a", 1, 1)]);
        // 1 buffered + 2 reserved: 2 free.
        assert_eq!(book.reserve(10), 2);
        book.unreserve(4);
        assert_eq!(book.reserve(10), 4);
    }

    #[test]
    fn full_reservations_wait_for_a_whole_batch_of_room() {
        let mut book = Book::new(20, 10, 10);
        assert_eq!(book.reserve_full(), 10);
        book.accept(10, (0..10).map(|i| step(&format!("s{i}"), 1, 1)).collect());
        assert_eq!(book.reserve_full(), 10, "10 buffered, 10 free");
        assert_eq!(book.reserve_full(), 0, "no room left");
        book.unreserve(10);
        book.accept(0, (10..15).map(|i| step(&format!("s{i}"), 1, 1)).collect());
        assert_eq!(book.reserve_full(), 0, "15 buffered: 5 free is not a batch");
        book.take(5, Instant::now());
        assert_eq!(book.reserve_full(), 10);
        // A prefetch smaller than the batch: the full claim is the prefetch.
        let mut small = Book::new(3, 10, 10);
        assert_eq!(small.reserve_full(), 3);
        assert_eq!(small.reserve_full(), 0);
        assert_eq!(Book::new(0, 10, 10).reserve_full(), 0);
    }

    #[test]
    fn the_buffer_follows_the_claim_size() {
        let mut book = Book::new(100, 10, 50);
        let t0 = Instant::now();
        assert_eq!((book.batch(), book.room()), (10, 20), "two claims' worth");
        // Handlers empty the buffer while a claim is under way: the next full claim doubles.
        let reserved = book.reserve_full();
        assert_eq!(book.take(1, t0).len(), 0);
        book.accept(
            reserved,
            (0..10).map(|i| step(&format!("a{i}"), 1, 1)).collect(),
        );
        book.claim_returned(true);
        assert_eq!((book.batch(), book.room()), (20, 30));
        // Short without a claim under way is not starving (an idle queue).
        book.take(10, t0);
        assert_eq!(book.take(1, t0).len(), 0);
        book.claim_returned(true);
        assert_eq!(book.batch(), 20);
        // A step that waited in the buffer too long halves it, down to batchSize.
        book.accept(0, vec![step("late", 1, 1)]);
        book.take(1, t0 + crate::claim_size::MAX_BUFFER_WAIT * 2);
        assert_eq!(book.batch(), 10);
        // An explicit prefetch caps both.
        let mut capped = Book::new(15, 10, 50);
        capped.reserve(1);
        capped.take(1, t0);
        capped.claim_returned(true);
        assert_eq!((capped.batch(), capped.room()), (15, 14));
    }

    #[test]
    fn take_moves_steps_in_flight_in_order() {
        let mut book = fixed(10);
        book.accept(0, vec![step("a", 1, 1), step("b", 1, 1), step("c", 1, 1)]);
        let taken = book.take(2, Instant::now());
        assert_eq!(taken.len(), 2);
        assert!(taken[0].json.contains("\"a\"") && taken[1].json.contains("\"b\""));
        assert_eq!((book.buffered(), book.in_flight()), (1, 2));
        assert_eq!(book.take(0, Instant::now()).len(), 0);
        assert_eq!(book.leases().len(), 3);
    }

    #[test]
    fn a_step_in_flight_is_adopted_not_handed_out_again() {
        let mut book = fixed(10);
        book.accept(0, vec![step("a", 1, 1)]);
        book.take(1, Instant::now());
        let accepted = book.accept(0, vec![step("a", 1, 2)]);
        assert_eq!(accepted.adopted, 1);
        assert_eq!(book.buffered(), 0);
        assert_eq!(book.in_flight(), 1);
        // The running handler's report and heartbeats quote the new delivery.
        assert_eq!(book.delivery_for("a", 1, 1), 2);
        assert_eq!(
            book.leases(),
            vec![Lease {
                step_id: "a".into(),
                attempt: 1,
                delivery: 2
            }]
        );
        // Not in flight, or another attempt: the report's own delivery.
        assert_eq!(book.delivery_for("a", 2, 1), 1);
        assert_eq!(book.delivery_for("zz", 1, 7), 7);
    }

    #[test]
    fn a_newer_attempt_of_a_step_in_flight_is_a_new_run() {
        let mut book = fixed(10);
        book.accept(0, vec![step("a", 1, 1)]);
        book.take(1, Instant::now());
        // Attempt 1 reported a retryable failure; its retry is claimed before the answer is read.
        let accepted = book.accept(0, vec![step("a", 2, 1)]);
        assert_eq!(
            (accepted.superseded, accepted.buffered, accepted.adopted),
            (1, 1, 0)
        );
        assert_eq!((book.buffered(), book.in_flight()), (1, 0));
        // The old report's answer finishes nothing; the retry is handed out.
        assert!(!book.finish("a", 1));
        assert_eq!(book.take(1, Instant::now()).len(), 1);
        assert!(book.finish("a", 2));
    }

    #[test]
    fn a_buffered_step_claimed_again_keeps_one_entry() {
        let mut book = fixed(10);
        book.accept(0, vec![step("a", 1, 1)]);
        let accepted = book.accept(0, vec![step("a", 1, 2)]);
        assert_eq!(accepted.replaced, 1);
        assert_eq!(book.buffered(), 1);
        assert!(book.take(5, Instant::now())[0]
            .json
            .contains("\"delivery\":2"));
    }

    #[test]
    fn heartbeat_aborts_running_steps_once_and_drops_buffered_ones() {
        let mut book = fixed(10);
        book.accept(
            0,
            vec![step("run", 1, 1), step("wait", 1, 1), step("ok", 1, 1)],
        );
        book.take(1, Instant::now()); // "run" is in flight
        let effect = book.apply_heartbeat(
            &[
                ext("run", 1, 1, true, true),
                ext("wait", 1, 1, false, true),
                ext("ok", 1, 1, true, false),
            ],
            later(),
        );
        assert_eq!(
            effect,
            HeartbeatEffect {
                extended: 2,
                dropped: 1,
                aborted: 1
            }
        );
        assert_eq!(
            book.buffered(),
            1,
            "the aborted buffered step is never handed out"
        );
        assert_eq!(book.take_aborted(), vec!["run".to_owned()]);
        assert!(book.take_aborted().is_empty());
        // The next heartbeat says the same: not signalled twice.
        let again = book.apply_heartbeat(&[ext("run", 1, 1, true, true)], later());
        assert_eq!(again.aborted, 0);
        assert!(book.take_aborted().is_empty());
    }

    #[test]
    fn heartbeat_rows_for_an_old_lease_are_ignored() {
        let mut book = fixed(10);
        book.accept(0, vec![step("a", 1, 1)]);
        book.take(1, Instant::now());
        book.accept(0, vec![step("a", 1, 2)]); // adopted delivery 2
        let effect = book.apply_heartbeat(&[ext("a", 1, 1, false, true)], later());
        assert_eq!(effect.aborted, 0);
        assert!(book.take_aborted().is_empty());
    }

    #[test]
    fn finish_only_ends_the_attempt_reported() {
        let mut book = fixed(10);
        book.accept(0, vec![step("a", 2, 1)]);
        book.take(1, Instant::now());
        assert!(
            !book.finish("a", 1),
            "a stale report for attempt 1 leaves attempt 2 running"
        );
        assert_eq!(book.in_flight(), 1);
        assert!(book.finish("a", 2));
        assert_eq!(book.in_flight(), 0);
        assert!(!book.finish("a", 2));
    }

    #[test]
    fn finishing_clears_an_unread_abort() {
        let mut book = fixed(10);
        book.accept(0, vec![step("a", 1, 1)]);
        book.take(1, Instant::now());
        book.apply_heartbeat(&[ext("a", 1, 1, false, true)], later());
        book.finish("a", 1);
        assert!(book.take_aborted().is_empty());
    }

    #[test]
    fn drain_buffer_empties_it() {
        let mut book = fixed(10);
        book.accept(0, vec![step("a", 1, 1), step("b", 1, 1)]);
        book.take(1, Instant::now());
        let drained = book.drain_buffer();
        assert_eq!(drained.len(), 1);
        assert_eq!(drained[0].lease.step_id, "b");
        assert_eq!((book.buffered(), book.in_flight()), (0, 1));
    }

    #[test]
    fn leases_lapse_by_the_local_clock() {
        let mut book = fixed(10);
        let now = Instant::now();
        let soon = now + std::time::Duration::from_millis(100);
        let lapsing = |id: &str| ClaimedStep {
            lease_until: soon,
            ..step(id, 1, 1)
        };
        book.accept(
            0,
            vec![
                lapsing("run"),
                lapsing("beaten"),
                lapsing("adopted"),
                lapsing("wait"),
            ],
        );
        assert_eq!(book.take(3, now).len(), 3);
        // A heartbeat extends "beaten", a claim adopts "adopted" under a fresh lease.
        book.apply_heartbeat(&[ext("beaten", 1, 1, true, false)], later());
        book.accept(0, vec![step("adopted", 1, 2)]);
        assert_eq!(book.expire(now), 0);
        assert!(book.take_lapsed().is_empty(), "nothing has lapsed yet");
        let past = soon + std::time::Duration::from_millis(1);
        assert_eq!(book.expire(past), 1, "the buffered step is dropped");
        assert!(
            book.take_aborted().is_empty(),
            "a lapse is not a heartbeat's abort"
        );
        assert_eq!(book.take_lapsed(), vec!["run".to_owned()]);
        assert_eq!(book.expire(past), 0);
        assert!(book.take_lapsed().is_empty(), "named once");
        assert_eq!(book.take(5, past).len(), 0);
        assert_eq!(
            book.in_flight(),
            3,
            "until abandoned, the lapsed step is still in flight"
        );
        // A lapsed buffered step is not handed out even when take comes first.
        book.accept(0, vec![lapsing("late")]);
        assert_eq!(book.take(5, past).len(), 0);
        assert_eq!(book.buffered(), 0);
    }

    #[test]
    fn a_step_whose_report_is_queued_is_neither_aborted_nor_abandoned() {
        let mut book = fixed(10);
        let now = Instant::now();
        let lapsing = ClaimedStep {
            lease_until: now + std::time::Duration::from_millis(10),
            ..step("a", 1, 1)
        };
        book.accept(0, vec![lapsing]);
        book.take(1, now);
        book.start_report("a", 1);
        book.apply_heartbeat(&[ext("a", 1, 1, false, true)], later());
        book.expire(now + std::time::Duration::from_secs(1));
        assert!(
            book.take_aborted().is_empty() && book.take_lapsed().is_empty(),
            "no handler is running any more"
        );
        assert!(!book.abandon("a", 1), "its report is on its way");
        assert_eq!(
            book.leases().len(),
            1,
            "still extended until the report commits"
        );
        assert!(book.finish("a", 1));
    }
}
