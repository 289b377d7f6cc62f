//! One claim loop per namespace: claims a batch (its size set by claim_size.rs) per round trip
//! into the shared buffer when a whole batch fits, and between round trips waits as the
//! deployment mode says (docs/bindings.md, "Claiming").

use crate::backoff::Backoff;
use crate::config::Mode;
use crate::error::codes;
use crate::log;
use crate::profile::micros;
use crate::shared::{lock, Shared, Wake};
use crate::stats::add;
use std::sync::Arc;
use tokio::time::{sleep, sleep_until, Instant};

/// Runs until draining starts. A claim under way is always allowed to finish (its steps are
/// in the buffer before drain gives the buffer back), so it is never raced against the stop.
pub async fn run(shared: Arc<Shared>, namespace: Arc<str>, wake: Arc<Wake>) {
    let config = &shared.config;
    let mut backoff = Backoff::new();
    let mut warned = false;
    loop {
        let Some(want) = wait_for_room(&shared).await else {
            return;
        };
        let started = Instant::now();
        let result = shared
            .db
            .claim(
                &namespace,
                want as u32,
                config.lease_seconds,
                &config.worker_id,
            )
            .await;
        match result {
            Ok(batch) => {
                // Counted once the database answered, as the pg binding counts them.
                add(&shared.counters.claim_round_trips, 1);
                backoff.reset();
                warned = false;
                let read = batch.read();
                let profile = &shared.profile;
                profile.record(&profile.claim_round_trip, micros(started.elapsed()));
                profile.record(&profile.claim_size, batch.claimed.len() as u64);
                add(&shared.counters.claimed, batch.claimed.len());
                add(&shared.counters.discarded, batch.discarded);
                add(&shared.counters.deferred, batch.deferred);
                let arrived = batch.claimed.len();
                let accepted = {
                    let mut book = lock(&shared.book);
                    book.claim_returned(read >= want);
                    book.accept(want, batch.claimed)
                };
                if accepted.buffered > 0 || accepted.replaced > 0 {
                    shared.steps_ready.notify_waiters();
                }
                if accepted.superseded > 0 {
                    // Steps left flight: a drain waiting for the in-flight count must hear of it.
                    shared.settled.notify_waiters();
                }
                if arrived < want {
                    // Reserved room this claim did not fill: another namespace's loop may be
                    // waiting for it.
                    shared.room_freed.notify_waiters();
                }
                if read >= want {
                    // The queue may hold more: claim again as soon as there is room.
                    continue;
                }
                if !wait_for_wake(&shared, &wake).await {
                    return;
                }
            }
            Err(error) => {
                lock(&shared.book).unreserve(want);
                shared.room_freed.notify_waiters();
                // Connection losses are expected and counted; anything else (e.g. a namespace
                // nobody registered a template in yet, TK006) deserves one line until it clears.
                if error.code != codes::DB_CONNECTION_FAILED && !warned {
                    log::warn(&format!("claim in namespace {namespace} failed: {error}"));
                    warned = true;
                }
                // A wake-up ends the wait early: a notification means the database is back, and a
                // notification in a namespace that failed with TK006 means it now exists.
                tokio::select! {
                    _ = sleep(backoff.next_delay()) => {}
                    _ = wake.notified() => {}
                    _ = shared.stop_claiming.cancelled() => return,
                }
            }
        }
    }
}

/// Reserves room for the next claim, waiting until a whole batch fits (`Book::reserve_full`).
/// Handlers take their steps one at a time (one turn of the JS thread takes several within
/// microseconds) and this loop runs on its own thread: claiming whatever room the first take
/// freed would claim about one step per round trip, and each claim is a commit. None when
/// draining.
async fn wait_for_room(shared: &Shared) -> Option<usize> {
    loop {
        let freed = shared.room_freed.notified();
        tokio::pin!(freed);
        // Registered before looking, so room freed between the look and the wait is not missed.
        freed.as_mut().enable();
        if shared.stop_claiming.is_cancelled() {
            return None;
        }
        let granted = lock(&shared.book).reserve_full();
        if granted > 0 {
            return Some(granted);
        }
        tokio::select! {
            _ = freed => {}
            _ = shared.stop_claiming.cancelled() => return None,
        }
    }
}

/// Waits for a reason to claim again after a claim found the queue drained: a wake-up
/// (notification, a report that enqueued successors, LISTEN recovered), the poll interval
/// (Hybrid, PollingOnly) or a scheduled wake-up (a notification's delay: a retry becoming
/// visible). False when draining.
///
/// A notification with a delay also wakes the loop at once (see `Wake::at`); that costs one
/// claim round trip that finds nothing, and lets the loop sleep until the new, possibly earlier,
/// deadline.
async fn wait_for_wake(shared: &Shared, wake: &Wake) -> bool {
    let config = &shared.config;
    let now = Instant::now();
    let poll_at = match config.mode {
        Mode::Hybrid | Mode::PollingOnly => Some(now + config.poll_interval),
        Mode::EventDrivenOnly => None,
    };
    let scheduled = wake.next_scheduled(now);
    let deadline = match (poll_at, scheduled) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let timer = async {
        match deadline {
            Some(at) => sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = wake.notified() => true,
        _ = timer => true,
        _ = shared.stop_claiming.cancelled() => false,
    }
}
