//! The heartbeat: every `heartbeatMs`, one `extend_leases` round trip covers every buffered and
//! in-flight step. Its answer feeds the abort set (in-flight steps whose handler must stop) and
//! drops buffered steps that must not run (docs/bindings.md, "Heartbeat").

use crate::error::codes;
use crate::log;
use crate::shared::{lock, Shared};
use crate::stats::add;
use std::sync::Arc;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

pub async fn run(shared: Arc<Shared>) {
    let period = shared.config.heartbeat;
    let mut ticks = interval_at(Instant::now() + period, period);
    // After a slow round trip (database away), beat once and resume the rhythm rather than
    // firing the missed beats back to back.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shared.shutdown.cancelled() => return,
        }
        beat(&shared).await;
    }
}

/// One heartbeat. A failure is not retried here: the next beat comes soon enough, and until
/// then the leases are still valid (a beat comes every third of the lease by default). When
/// beats keep failing, the leases lapse by the book's clock (`Book::expire`).
pub async fn beat(shared: &Shared) {
    let leases = lock(&shared.book).leases();
    if leases.is_empty() {
        return;
    }
    let lease_until = crate::db::lease_deadline(shared.config.lease_seconds);
    match shared.db.extend(&leases, shared.config.lease_seconds).await {
        Ok(rows) => {
            let effect = lock(&shared.book).apply_heartbeat(&rows, lease_until);
            add(&shared.counters.lease_extensions, effect.extended);
            if effect.dropped > 0 {
                shared.room_freed.notify_waiters();
            }
        }
        Err(error) => {
            if error.code != codes::DB_CONNECTION_FAILED {
                log::warn(&format!("heartbeat failed: {error}"));
            }
        }
    }
}
