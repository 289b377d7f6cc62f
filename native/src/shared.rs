//! The state every task of one core shares: configuration, database, bookkeeping, the report
//! queue, counters, and the signals the tasks wake each other with.

use crate::book::Book;
use crate::completion::{Completions, Reply};
use crate::config::Config;
use crate::db::Db;
use crate::profile::Profile;
use crate::report::Report;
use crate::stats::Counters;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Locks a mutex, recovering the data if a panic elsewhere poisoned it: every critical section
/// of the core leaves its data consistent at each step, and a worker must keep reporting.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a namespace's claim loop is woken: at once (notification, report that enqueued
/// successors, LISTEN recovered) or at a scheduled time (a notification's delay).
#[derive(Debug, Default)]
pub struct Wake {
    notify: Notify,
    scheduled: Mutex<BinaryHeap<Reverse<Instant>>>,
}

impl Wake {
    /// Wakes the loop now, or at its next wait if it is busy (the permit is kept).
    pub fn now(&self) {
        self.notify.notify_one();
    }

    /// Wakes the loop at `when`.
    pub fn at(&self, when: Instant) {
        lock(&self.scheduled).push(Reverse(when));
        // The loop may be asleep until a later deadline: let it recompute.
        self.notify.notify_one();
    }

    /// Forgets scheduled wake-ups that are due; returns the earliest one still ahead.
    pub fn next_scheduled(&self, now: Instant) -> Option<Instant> {
        let mut scheduled = lock(&self.scheduled);
        while let Some(Reverse(when)) = scheduled.peek() {
            if *when <= now {
                scheduled.pop();
            } else {
                return Some(*when);
            }
        }
        None
    }

    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

/// A queued report and where its result (the `ReportResult` JSON) goes.
pub struct Pending {
    pub report: Report,
    pub reply: Reply,
    /// When it was queued (for the profile).
    pub queued_at: Instant,
}

#[derive(Default)]
pub struct ReportQueue {
    pub queue: VecDeque<Pending>,
    /// A flush is under way (its reports are out of the queue but not yet settled).
    pub flushing: bool,
}

pub struct Shared {
    pub config: Config,
    /// `napi` or `ffi`, for `stats().binding`.
    pub binding: &'static str,
    pub db: Db,
    pub counters: Arc<Counters>,
    /// Phase timings, when TASKER_NATIVE_PROFILE is set.
    pub profile: Profile,
    pub book: Mutex<Book>,
    pub reports: Mutex<ReportQueue>,
    /// Results of ticketed operations (the C ABI's submit functions), waiting to be collected.
    pub completions: Completions,
    /// Claimed steps arrived in the buffer (wakes `next()`).
    pub steps_ready: Notify,
    /// Buffer room was freed (wakes claim loops waiting for room).
    pub room_freed: Notify,
    /// A report was queued (wakes the flusher).
    pub report_queued: Notify,
    /// Reports were settled (wakes `drain()` waiting for in-flight steps).
    pub settled: Notify,
    pub wakes: HashMap<Arc<str>, Arc<Wake>>,
    /// Cancelled when draining starts: claim loops stop, `next()` returns `[]`.
    pub stop_claiming: CancellationToken,
    /// Cancelled when the core closes: every background task ends.
    pub shutdown: CancellationToken,
    pub closed: AtomicBool,
}

impl Shared {
    /// Wakes the claim loop of `namespace`, or all loops when it is unknown.
    pub fn wake(&self, namespace: Option<&str>) {
        match namespace.and_then(|ns| self.wakes.get(ns)) {
            Some(wake) => wake.now(),
            None => self.wakes.values().for_each(|w| w.now()),
        }
    }

    /// No step in flight and no report waiting or being sent: what `drain()` waits for.
    pub fn settled_now(&self) -> bool {
        let reports = lock(&self.reports);
        reports.queue.is_empty() && !reports.flushing && lock(&self.book).in_flight() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn scheduled_wakes_come_back_in_order_and_expire() {
        let wake = Wake::default();
        let now = Instant::now();
        wake.at(now + Duration::from_millis(300));
        wake.at(now + Duration::from_millis(100));
        assert_eq!(
            wake.next_scheduled(now),
            Some(now + Duration::from_millis(100))
        );
        assert_eq!(
            wake.next_scheduled(now + Duration::from_millis(150)),
            Some(now + Duration::from_millis(300))
        );
        assert_eq!(wake.next_scheduled(now + Duration::from_millis(300)), None);
    }

    #[tokio::test]
    async fn a_wake_before_the_wait_is_not_lost() {
        let wake = Wake::default();
        wake.now();
        tokio::time::timeout(Duration::from_millis(100), wake.notified())
            .await
            .expect("the stored permit wakes the next wait");
    }
}
