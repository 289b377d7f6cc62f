//! The worker core: `WorkerCore` of sdk/src/binding/types.ts, independent of how it is called.
//! The napi face and the C ABI face are thin wrappers over this type; both pass JSON text in
//! and get JSON text back.
//!
//! `create` must run inside a Tokio runtime: the core spawns its background tasks (claim loops,
//! LISTEN connection, heartbeat, report flusher) on the runtime it is created in.

use crate::backoff::Backoff;
use crate::book::Book;
use crate::claim_loop;
use crate::config::Config;
use crate::db::Db;
use crate::error::{codes, CoreError};
use crate::heartbeat;
use crate::listener;
use crate::profile::{micros, Profile};
use crate::reporter;
use crate::shared::{lock, ReportQueue, Shared, Wake};
use crate::stats::{add, Counters};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OnceCell};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout_at, Instant};
use tokio_util::sync::CancellationToken;

mod intake;

/// What `drain()` did (`DrainResult`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct DrainResult {
    pub abandoned: usize,
    pub released: usize,
}

/// The least time drain gives a claim under way to finish, and `release_leases` to answer,
/// even with a zero timeout: cutting them short strands leases until they expire.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

pub struct Core {
    shared: Arc<Shared>,
    /// The runtime the core's tasks run on (where `submit_wait` waits).
    runtime: tokio::runtime::Handle,
    claim_loops: Mutex<Vec<JoinHandle<()>>>,
    background: Mutex<Vec<JoinHandle<()>>>,
    drained: OnceCell<DrainResult>,
}

impl Core {
    /// Parses the config, connects (pool and, unless PollingOnly, the LISTEN session) and
    /// starts the loops. `binding` is what `stats().binding` says.
    pub async fn create(config_json: &str, binding: &'static str) -> Result<Self, CoreError> {
        let config = Config::from_json(config_json)?;
        let counters = Arc::new(Counters::default());
        let db = Db::connect(&config, counters.clone()).await?;
        let listening = if config.mode.listens() {
            Some(
                listener::connect(db.pg_config(), &config.namespaces)
                    .await
                    .map_err(|mut e| {
                        e.message = format!("cannot open the LISTEN connection: {}", e.message);
                        e
                    })?,
            )
        } else {
            None
        };
        let wakes: HashMap<Arc<str>, Arc<Wake>> = config
            .namespaces
            .iter()
            .map(|ns| (Arc::from(ns.as_str()), Arc::new(Wake::default())))
            .collect();
        let shared = Arc::new(Shared {
            book: Mutex::new(Book::new(
                config.prefetch,
                config.batch_size as usize,
                config.max_batch_size as usize,
            )),
            config,
            binding,
            db,
            counters,
            profile: Profile::from_env(),
            reports: Mutex::new(ReportQueue::default()),
            completions: Default::default(),
            steps_ready: Notify::new(),
            room_freed: Notify::new(),
            report_queued: Notify::new(),
            settled: Notify::new(),
            wakes,
            stop_claiming: CancellationToken::new(),
            shutdown: CancellationToken::new(),
            closed: Default::default(),
        });

        let claim_loops = shared
            .wakes
            .iter()
            .map(|(ns, wake)| {
                tokio::spawn(claim_loop::run(shared.clone(), ns.clone(), wake.clone()))
            })
            .collect();
        let mut background = vec![
            tokio::spawn(heartbeat::run(shared.clone())),
            tokio::spawn(reporter::run(shared.clone())),
        ];
        if let Some(listening) = listening {
            background.push(tokio::spawn(listener::run(shared.clone(), listening)));
        }
        Ok(Self {
            shared,
            runtime: tokio::runtime::Handle::current(),
            claim_loops: Mutex::new(claim_loops),
            background: Mutex::new(background),
            drained: OnceCell::new(),
        })
    }

    fn draining(&self) -> bool {
        self.shared.stop_claiming.is_cancelled()
    }

    /// Up to `max` buffered steps as a JSON array, as soon as at least one is there; `[]` when
    /// `timeout_ms` passes or the core is draining.
    pub async fn next(&self, max: u32, timeout_ms: u32) -> String {
        let started = Instant::now();
        let deadline = started + Duration::from_millis(u64::from(timeout_ms));
        let mut waited = false;
        loop {
            let ready = self.shared.steps_ready.notified();
            tokio::pin!(ready);
            // Registered before looking, so steps arriving between the look and the wait wake us.
            ready.as_mut().enable();
            if let Some(steps) = self.take_buffered(max) {
                if waited {
                    let profile = &self.shared.profile;
                    profile.record(&profile.next_wait, micros(started.elapsed()));
                }
                return steps;
            }
            waited = true;
            // A deadline already reached answers without a timer: tokio's timers tick by the
            // millisecond, so sleep_until(now) held the C ABI's nextNow (timeout 0, on the JS
            // thread) for up to a millisecond whenever the buffer was empty.
            if self.draining() || max == 0 || Instant::now() >= deadline {
                return "[]".to_owned();
            }
            tokio::select! {
                _ = ready => {}
                _ = tokio::time::sleep_until(deadline) => return "[]".to_owned(),
                _ = self.shared.stop_claiming.cancelled() => return "[]".to_owned(),
            }
        }
    }

    /// What `next(max, 0)` answers, without waiting or leaving the calling thread: the buffered
    /// steps (`[]` when there are none or the core is draining). The napi face calls it on the
    /// JS thread, so a busy worker gets its steps without a thread hop.
    pub fn take_now(&self, max: u32) -> String {
        self.take_buffered(max).unwrap_or_else(|| "[]".to_owned())
    }

    /// Takes up to `max` buffered steps; None when there are none (or draining).
    fn take_buffered(&self, max: u32) -> Option<String> {
        if self.draining() || max == 0 {
            return None;
        }
        let now = std::time::Instant::now();
        // Book::take drops lapsed buffered steps itself; the buffer's shrinking beyond what was
        // taken says whether it did (no second scan of the book on this path).
        let (steps, dropped) = {
            let mut book = lock(&self.shared.book);
            let before = book.buffered();
            let steps = book.take(max as usize, now);
            let dropped = before - steps.len() - book.buffered();
            (steps, dropped)
        };
        if steps.is_empty() && dropped == 0 {
            return None;
        }
        // Room freed by taking or by dropping: a claim loop may be waiting for it.
        self.shared.room_freed.notify_waiters();
        if steps.is_empty() {
            return None;
        }
        let profile = &self.shared.profile;
        if profile.enabled {
            for step in &steps {
                profile.record(&profile.buffer_wait, micros(now - step.claimed_at));
            }
        }
        let texts: Vec<String> = steps.into_iter().map(|s| s.json).collect();
        Some(json_array(&texts))
    }

    /// Waits until claimed steps are buffered (true) or `timeout_ms` passes or the core is
    /// draining (false), without taking any: the adapters take them with `take_now` on the JS
    /// thread, so every handler slot waiting in one process is served in the same turn by one
    /// wake-up (and their reports then share a round trip), and no step is ever taken for a
    /// caller that has stopped waiting.
    pub async fn wait_for_steps(&self, timeout_ms: u32) -> bool {
        let deadline = Instant::now() + Duration::from_millis(u64::from(timeout_ms));
        loop {
            let ready = self.shared.steps_ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            if self.draining() {
                return false;
            }
            self.expire_leases();
            if lock(&self.shared.book).buffered() > 0 {
                return true;
            }
            tokio::select! {
                _ = ready => {}
                _ = tokio::time::sleep_until(deadline) => return false,
                _ = self.shared.stop_claiming.cancelled() => return false,
            }
        }
    }

    /// Step ids whose handlers should stop, learned from heartbeats since the last call.
    pub fn take_aborted(&self) -> Vec<String> {
        self.expire_leases();
        lock(&self.shared.book).take_aborted()
    }

    /// Step ids whose lease lapsed by this core's clock while their handler ran (heartbeats
    /// failing or unanswered): those handlers stop and are not reported.
    pub fn take_lapsed(&self) -> Vec<String> {
        self.expire_leases();
        lock(&self.shared.book).take_lapsed()
    }

    /// Applies the book's clock to the leases (`Book::expire`); buffer room freed by dropping
    /// lapsed steps wakes the claim loops, which would otherwise wait for room for ever.
    fn expire_leases(&self) {
        let dropped = lock(&self.shared.book).expire(std::time::Instant::now());
        if dropped > 0 {
            self.shared.room_freed.notify_waiters();
        }
    }

    /// The handler of `(step_id, attempt)` was abandoned (aborted at shutdown, never to be
    /// reported): the step leaves flight, so its lease is no longer extended (it lapses and
    /// another worker runs the step) and a drain stops waiting for it. False when it was not in
    /// flight here under that attempt.
    pub fn abandon(&self, step_id: &str, attempt: i32) -> bool {
        if self.is_closed() {
            return false;
        }
        let left = lock(&self.shared.book).abandon(step_id, attempt);
        if left {
            self.shared.settled.notify_waiters();
        }
        left
    }

    /// `CoreStats` as JSON.
    pub fn stats(&self) -> String {
        let book = {
            let book = lock(&self.shared.book);
            (book.buffered(), book.in_flight(), book.batch())
        };
        let snapshot = self.shared.counters.snapshot(self.shared.binding, book);
        serde_json::to_string(&snapshot).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Stops claiming, gives back buffered steps, waits up to `timeout_ms` for in-flight steps
    /// to be reported and their reports committed, then closes every connection. Calling it
    /// again returns the first call's result.
    pub async fn drain(&self, timeout_ms: u32) -> DrainResult {
        *self
            .drained
            .get_or_init(|| self.drain_once(Duration::from_millis(u64::from(timeout_ms))))
            .await
    }

    async fn drain_once(&self, timeout: Duration) -> DrainResult {
        let shared = &self.shared;
        let deadline = Instant::now() + timeout;
        let grace = deadline.max(Instant::now() + DRAIN_GRACE);

        shared.stop_claiming.cancel();
        shared.steps_ready.notify_waiters();
        let loops: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.claim_loops));
        for handle in loops {
            let abort = handle.abort_handle();
            if timeout_at(grace, handle).await.is_err() {
                abort.abort();
            }
        }

        let released = self.release_buffered(grace).await;

        loop {
            let settled = shared.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            if shared.settled_now() {
                break;
            }
            if timeout_at(deadline, settled).await.is_err() {
                break;
            }
        }
        // A report committed while draining may have claimed steps with it (reporter.rs,
        // `send`) after the buffer was given back: give those back too.
        let released = released + self.release_buffered(grace).await;
        let abandoned = lock(&shared.book).in_flight();
        self.close().await;
        if shared.profile.enabled {
            eprint!("{}", shared.profile.report(&shared.config.worker_id));
        }
        DrainResult {
            abandoned,
            released,
        }
    }

    /// Gives the buffer's leases back with `release_leases`, retrying a lost connection until
    /// `until`. Leases not given back expire normally.
    async fn release_buffered(&self, until: Instant) -> usize {
        let shared = &self.shared;
        let leases: Vec<_> = lock(&shared.book)
            .drain_buffer()
            .into_iter()
            .map(|step| step.lease)
            .collect();
        if leases.is_empty() {
            return 0;
        }
        let mut backoff = Backoff::new();
        loop {
            match timeout_at(until, shared.db.release(&leases, &shared.config.worker_id)).await {
                Ok(Ok(released)) => {
                    add(&shared.counters.released, released);
                    return released;
                }
                Ok(Err(error)) if error.transient && Instant::now() < until => {
                    let _ = timeout_at(until, sleep(backoff.next_delay())).await;
                }
                Ok(Err(error)) => {
                    crate::log::warn(&format!("release_leases failed while draining: {error}"));
                    return 0;
                }
                Err(_) => return 0,
            }
        }
    }

    /// Ends every background task and closes the pool.
    async fn close(&self) {
        let shared = &self.shared;
        {
            let _reports = lock(&shared.reports);
            shared.closed.store(true, Ordering::Release);
        }
        shared.stop_claiming.cancel();
        shared.shutdown.cancel();
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.background));
        for handle in tasks {
            let abort = handle.abort_handle();
            if tokio::time::timeout(Duration::from_secs(1), handle)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        // A reporter aborted inside a round trip (a database that stopped answering) never
        // reached its own refusal of what was still queued: refuse it here, or those reports'
        // promises would never settle.
        crate::reporter::refuse_queued(shared);
        shared.db.close();
    }

    /// Whether `drain` has finished.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl Drop for Core {
    /// A core dropped without `drain` (its owner was garbage-collected, or the handle leaked)
    /// must not leave loops claiming for nobody: stop everything. Buffered leases expire.
    fn drop(&mut self) {
        self.shared.stop_claiming.cancel();
        self.shared.shutdown.cancel();
        self.shared.db.close();
        for handle in lock(&self.claim_loops)
            .iter()
            .chain(lock(&self.background).iter())
        {
            handle.abort();
        }
    }
}

/// `[a,b,c]` from JSON texts, without re-parsing them.
pub fn json_array(items: &[String]) -> String {
    let len = items.iter().map(String::len).sum::<usize>() + items.len() + 2;
    let mut out = String::with_capacity(len);
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
    out
}

/// The `{"handle": n}` / DrainResult JSON helpers used by the faces.
pub fn drain_json(result: &DrainResult) -> String {
    serde_json::to_string(result).unwrap_or_else(|_| r#"{"abandoned":0,"released":0}"#.to_owned())
}

/// Error for the faces when a core cannot be used.
pub fn unknown_handle(handle: u64) -> CoreError {
    CoreError::new(
        codes::UNKNOWN_HANDLE,
        format!("no worker core has handle {handle} (never created, or drained)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_array_joins_without_parsing() {
        assert_eq!(json_array(&[]), "[]");
        assert_eq!(json_array(&[r#"{"a":1}"#.into()]), r#"[{"a":1}]"#);
        assert_eq!(json_array(&["1".into(), "2".into()]), "[1,2]");
    }

    #[test]
    fn drain_result_json() {
        assert_eq!(
            drain_json(&DrainResult {
                abandoned: 1,
                released: 2
            }),
            r#"{"abandoned":1,"released":2}"#
        );
    }
}
