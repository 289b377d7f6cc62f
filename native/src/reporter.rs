//! The report flusher: sends queued reports in `report_steps` round trips, one flush at a time
//! (docs/bindings.md, "Reporting").
//!
//! With `reportLingerMs = 0` a report goes out as soon as no flush is running, and the reports
//! that arrive during a flush go together in the next one: a lone report is never held back and
//! a busy worker batches by itself. A round trip that fails because the connection went away is
//! retried with backoff until it commits; reports are only given up when the core closes.

use crate::backoff::Backoff;
use crate::completion::answer;
use crate::db::{ClaimBatch, ReportRow};
use crate::error::{codes, CoreError};
use crate::profile::micros;
use crate::report::{take_batch, wire_batch};
use crate::shared::{lock, Pending, Shared};
use crate::stats::add;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::time::sleep;

pub async fn run(shared: Arc<Shared>) {
    loop {
        if !wait_for_reports(&shared).await {
            break;
        }
        linger(&shared).await;
        let batch = {
            let mut reports = lock(&shared.reports);
            reports.flushing = true;
            take_batch(
                &mut reports.queue,
                shared.config.report_batch_max,
                |p: &Pending| p.report.step_id.as_str(),
            )
        };
        let profile = &shared.profile;
        if profile.enabled {
            for pending in &batch {
                profile.record(
                    &profile.report_queue_wait,
                    micros(pending.queued_at.elapsed()),
                );
            }
        }
        flush(&shared, batch).await;
        lock(&shared.reports).flushing = false;
        shared.settled.notify_waiters();
    }
    refuse_queued(&shared);
}

/// Closed: whatever is still queued will never be sent.
pub fn refuse_queued(shared: &Shared) {
    let left: Vec<Pending> = lock(&shared.reports).queue.drain(..).collect();
    fail(shared, left, CoreError::closed());
    shared.settled.notify_waiters();
}

/// With `reportLingerMs > 0`, lets the first report wait up to the linger for others, ending
/// the wait as soon as a full batch is queued, or when draining starts (no new work will come,
/// and drain is waiting for these reports).
async fn linger(shared: &Shared) {
    let linger = shared.config.report_linger;
    if linger.is_zero() {
        return;
    }
    let until = tokio::time::Instant::now() + linger;
    loop {
        let queued = shared.report_queued.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        if lock(&shared.reports).queue.len() >= shared.config.report_batch_max {
            return;
        }
        tokio::select! {
            _ = queued => {}
            _ = tokio::time::sleep_until(until) => return,
            _ = shared.stop_claiming.cancelled() => return,
        }
    }
}

/// Waits until a report is queued. False when the core closes.
async fn wait_for_reports(shared: &Shared) -> bool {
    loop {
        let queued = shared.report_queued.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        if shared.shutdown.is_cancelled() {
            return false;
        }
        if !lock(&shared.reports).queue.is_empty() {
            return true;
        }
        tokio::select! {
            _ = queued => {}
            _ = shared.shutdown.cancelled() => return false,
        }
    }
}

/// Sends one batch until it commits. If the database refuses the batch as a whole (an error
/// that is not a lost connection), each report is sent alone so the error reaches only the
/// report that caused it.
async fn flush(shared: &Shared, batch: Vec<Pending>) {
    if batch.is_empty() {
        return;
    }
    match send(shared, &batch).await {
        Ok(sent) => settle(shared, batch, sent),
        Err(error) if batch.len() > 1 && error.code != codes::CORE_CLOSED => {
            // Resent report by report: a retry, as the pg binding counts it.
            add(&shared.counters.report_retries, 1);
            for pending in batch {
                let single = vec![pending];
                match send(shared, &single).await {
                    Ok(sent) => settle(shared, single, sent),
                    Err(error) => fail(shared, single, error),
                }
            }
        }
        Err(error) => fail(shared, batch, error),
    }
}

/// Answers each report with `error`. A report that will never commit takes its step out of
/// flight all the same: kept in, the heartbeat would extend its lease for ever for a handler
/// that has finished, and the step would never be redelivered.
fn fail(shared: &Shared, batch: Vec<Pending>, error: CoreError) {
    {
        let mut book = lock(&shared.book);
        for pending in &batch {
            book.finish(&pending.report.step_id, pending.report.attempt);
        }
    }
    answer(
        &shared.completions,
        batch
            .into_iter()
            .map(|pending| (pending.reply, Err(error.clone()))),
    );
}

/// What a committed round trip answered, the delivery each report quoted, and the steps claimed
/// with it into the buffer room reserved for them.
struct Sent {
    rows: Vec<ReportRow>,
    deliveries: Vec<i32>,
    claims: ClaimBatch,
    reserved: usize,
}

/// One `report_and_claim` round trip, repeated with backoff while the failure is transient. The
/// deliveries are read from the book on every attempt, so a lease adopted while the database
/// was away is the one quoted.
///
/// Each report frees a handler slot, so the round trip also claims up to one step per report
/// (as buffer room allows) from the namespaces where the reports enqueued successors: a worker
/// that finishes a step takes its ready successor without waiting for NOTIFY and a second round
/// trip. The room is reserved in the book first, as a claim loop reserves it.
async fn send(shared: &Shared, batch: &[Pending]) -> Result<Sent, CoreError> {
    let reserved = if shared.stop_claiming.is_cancelled() {
        0
    } else {
        let mut book = lock(&shared.book);
        let want = batch.len().min(book.batch());
        book.reserve(want)
    };
    let result = send_reserved(shared, batch, reserved).await;
    if result.is_err() && reserved > 0 {
        lock(&shared.book).unreserve(reserved);
        shared.room_freed.notify_waiters();
    }
    result
}

async fn send_reserved(
    shared: &Shared,
    batch: &[Pending],
    reserved: usize,
) -> Result<Sent, CoreError> {
    let mut backoff = Backoff::new();
    loop {
        let (wire, deliveries) = {
            let book = lock(&shared.book);
            let deliveries: Vec<i32> = batch
                .iter()
                .map(|p| book.delivery_for(&p.report.step_id, p.report.attempt, p.report.delivery))
                .collect();
            let mut quoted = deliveries.iter();
            let wire = wire_batch(batch.iter().map(|p| &p.report), |r| {
                quoted.next().copied().unwrap_or(r.delivery)
            });
            (wire, deliveries)
        };
        let started = tokio::time::Instant::now();
        // A drain that began meanwhile wants no more steps.
        let claim_max = if shared.stop_claiming.is_cancelled() {
            0
        } else {
            reserved
        };
        let round_trip = shared.db.report_and_claim(
            &wire,
            &shared.config.worker_id,
            claim_max as u32,
            shared.config.lease_seconds,
        );
        match round_trip.await {
            Ok((rows, claims)) => {
                add(&shared.counters.report_round_trips, 1);
                let profile = &shared.profile;
                profile.record(&profile.report_round_trip, micros(started.elapsed()));
                profile.record(&profile.report_size, batch.len() as u64);
                return Ok(Sent {
                    rows,
                    deliveries,
                    claims,
                    reserved,
                });
            }
            Err(error) if error.transient => {
                add(&shared.counters.report_retries, 1);
                tokio::select! {
                    _ = sleep(backoff.next_delay()) => {}
                    _ = shared.shutdown.cancelled() => return Err(CoreError::closed()),
                }
            }
            Err(error) => return Err(error),
        }
    }
}

/// Hands each caller its result, ends the reported steps' time in flight, buffers the steps
/// claimed with the reports, and wakes the claim loop of a namespace where a report enqueued
/// successors (unless the claim made with the reports made that unnecessary).
///
/// A report rejected because its step was claimed again by this very core while the round trip
/// was under way (the running handler adopted a newer lease after the batch was written) is not
/// the handler's fault: it goes back to the front of the queue to be sent with the new delivery.
fn settle(shared: &Shared, batch: Vec<Pending>, sent: Sent) {
    let mut by_step: HashMap<String, ReportRow> = sent
        .rows
        .into_iter()
        .map(|row| (row.step_id.clone(), row))
        .collect();
    let mut wake_namespaces = Vec::new();
    let mut wake_all = false;
    let mut enqueued_total = 0usize;
    let mut replies = Vec::with_capacity(batch.len());
    let mut resend = Vec::new();
    let profile = &shared.profile;
    {
        let mut book = lock(&shared.book);
        for (pending, quoted) in batch.into_iter().zip(sent.deliveries) {
            let report = &pending.report;
            let Some(row) = by_step.remove(&report.step_id) else {
                let error = CoreError::new(
                    codes::INTERNAL,
                    format!("report_steps returned no row for step {}", report.step_id),
                );
                replies.push((pending.reply, Err(error)));
                continue;
            };
            if !row.accepted && book.delivery_for(&report.step_id, report.attempt, quoted) != quoted
            {
                resend.push(pending);
                continue;
            }
            let namespace = book.namespace_of(&report.step_id);
            book.finish(&report.step_id, report.attempt);
            if row.accepted {
                add(&shared.counters.reported, 1);
            } else {
                add(&shared.counters.rejected, 1);
            }
            if row.enqueued > 0 && row.accepted {
                enqueued_total += row.enqueued as usize;
            }
            if row.enqueued > 0 {
                match namespace {
                    Some(ns) => wake_namespaces.push(ns),
                    None => wake_all = true,
                }
            }
            profile.record(&profile.report_latency, micros(pending.queued_at.elapsed()));
            replies.push((pending.reply, Ok(row.json)));
        }
    }
    // After the reports are finished: a step claimed again here (a retry due at once) must be
    // buffered as new work, not adopted as the attempt that just ended.
    let claims = sent.claims;
    // No claim loop needs waking for the successors when the claim took as many messages as the
    // reports added, or every ready one there was (it asked for more than it read).
    let drained_queues = claims.read() < sent.reserved || claims.claimed.len() >= enqueued_total;
    let claimed = claims.claimed.len();
    add(&shared.counters.claimed, claimed);
    add(&shared.counters.discarded, claims.discarded);
    add(&shared.counters.deferred, claims.deferred);
    let accepted = lock(&shared.book).accept(sent.reserved, claims.claimed);
    if accepted.buffered > 0 || accepted.replaced > 0 {
        shared.steps_ready.notify_waiters();
    }
    if accepted.superseded > 0 {
        // Steps left flight: a drain waiting for the in-flight count must hear of it.
        shared.settled.notify_waiters();
    }
    if claimed < sent.reserved {
        shared.room_freed.notify_waiters();
    }
    if drained_queues {
        wake_namespaces.clear();
        wake_all = false;
    }
    if !resend.is_empty() {
        let mut reports = lock(&shared.reports);
        for pending in resend.into_iter().rev() {
            reports.queue.push_front(pending);
        }
        drop(reports);
        shared.report_queued.notify_one();
    }
    if wake_all {
        shared.wake(None);
    } else {
        for ns in &wake_namespaces {
            shared.wake(Some(ns));
        }
    }
    answer(&shared.completions, replies);
}
