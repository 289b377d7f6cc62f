//! How work enters a core from its callers: reports (one, a turn's array, or ticketed for the
//! C ABI's completion queue), ticketed waits for steps, and collecting the completion queue.
//! Everything here queues and returns; the flusher (reporter.rs) and the runtime do the waiting.

use super::{json_array, Core};
use crate::completion::{Answer, Reply};
use crate::envelope;
use crate::error::CoreError;
use crate::profile::micros;
use crate::report::Report;
use crate::shared::{lock, Pending};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

impl Core {
    /// Queues a report and resolves with its `ReportResult` JSON once committed.
    pub async fn report(&self, report_json: &str) -> Result<String, CoreError> {
        let report = Report::parse(report_json)?;
        let (reply, result) = oneshot::channel();
        self.enqueue(vec![(report, Reply::Waiting(reply))])?;
        result.await.unwrap_or_else(|_| Err(CoreError::closed()))
    }

    /// Queues the reports of a JSON array together (the flusher sees them all at once, so they
    /// share a round trip), on the calling thread: the napi face calls it on the JS thread, so
    /// the reports reach the flusher at once however busy the addon's own threads are. Awaiting
    /// the returned `QueuedReports` gives, once each is settled, a JSON array of their envelopes
    /// in the same order: `{"ok":true,"value":ReportResult}` or `{"ok":false,…}` for a report
    /// refused (one bad report does not fail the others). Err only when the array itself is not
    /// JSON or the core is closed.
    pub fn queue_many(&self, reports_json: &str) -> Result<QueuedReports, CoreError> {
        let reports: Vec<&RawValue> = serde_json::from_str(reports_json).map_err(|e| {
            CoreError::invalid_report("reports", format!("invalid report array: {e}"))
        })?;
        let mut answers: Vec<Result<oneshot::Receiver<Answer>, CoreError>> =
            Vec::with_capacity(reports.len());
        let mut queued = Vec::with_capacity(reports.len());
        for raw in reports {
            match Report::parse(raw.get()) {
                Ok(report) => {
                    let (reply, result) = oneshot::channel();
                    queued.push((report, Reply::Waiting(reply)));
                    answers.push(Ok(result));
                }
                Err(error) => answers.push(Err(error)),
            }
        }
        self.enqueue(queued)?;
        Ok(QueuedReports { answers })
    }

    /// The C ABI's submit: queues the reports of a JSON array `[{"ticket":n,"report":StepReport}]`
    /// and returns at once with how many were queued. Each report's result (or its refusal)
    /// comes back from `completions` under its ticket. Err, with nothing queued, when the array
    /// is malformed (not JSON, an element without a ticket or report) or the core is closed.
    pub fn submit_reports(&self, items_json: &str) -> Result<usize, CoreError> {
        #[derive(Deserialize)]
        struct Item<'a> {
            ticket: u64,
            #[serde(borrow)]
            report: &'a RawValue,
        }
        let items: Vec<Item<'_>> = serde_json::from_str(items_json).map_err(|e| {
            CoreError::invalid_report(
                "reports",
                format!("expected a JSON array of {{\"ticket\": n, \"report\": StepReport}}: {e}"),
            )
        })?;
        let count = items.len();
        let mut queued = Vec::with_capacity(count);
        let mut refused = Vec::new();
        for item in items {
            match Report::parse(item.report.get()) {
                Ok(report) => queued.push((report, Reply::Ticket(item.ticket))),
                Err(error) => refused.push((item.ticket, Err(error))),
            }
        }
        if queued.is_empty() && self.is_closed() {
            return Err(CoreError::closed());
        }
        self.enqueue(queued)?;
        self.shared.completions.push(refused);
        Ok(count)
    }

    /// The C ABI's `wait_for_steps`: runs it on the core's runtime (the caller's thread returns
    /// at once) and puts the answer, `true` or `false`, in the completion queue under `ticket`.
    pub fn submit_wait(self: &Arc<Self>, ticket: u64, timeout_ms: u32) -> Result<(), CoreError> {
        if self.is_closed() {
            return Err(CoreError::closed());
        }
        let core = self.clone();
        self.runtime.spawn(async move {
            let ready = core.wait_for_steps(timeout_ms).await;
            core.shared
                .completions
                .push([(ticket, Ok(ready.to_string()))]);
        });
        Ok(())
    }

    /// Results of submitted operations: up to `max`, waiting up to `timeout_ms` for the first.
    /// `[]` on timeout; once the core has closed, what is left, then `CORE_CLOSED`.
    pub async fn completions(&self, max: u32, timeout_ms: u32) -> Result<String, CoreError> {
        let completions = &self.shared.completions;
        if self.is_closed() && completions.is_empty() {
            return Err(CoreError::closed());
        }
        let deadline = Instant::now() + Duration::from_millis(u64::from(timeout_ms));
        Ok(completions
            .collect(max.max(1) as usize, deadline, &self.shared.shutdown)
            .await)
    }

    /// Every result not collected yet (what a drained handle hands over with its answer).
    pub fn take_completions(&self) -> Vec<(u64, Answer)> {
        self.shared.completions.take(usize::MAX)
    }

    /// Puts reports in the flusher's queue in one go and wakes it once.
    fn enqueue(&self, reports: Vec<(Report, Reply)>) -> Result<(), CoreError> {
        let profile = &self.shared.profile;
        if profile.enabled {
            let book = lock(&self.shared.book);
            for (report, _) in &reports {
                if let Some(at) = book.handed_at(&report.step_id, report.attempt) {
                    profile.record(&profile.in_flight, micros(at.elapsed()));
                }
            }
        }
        if reports.is_empty() {
            return Ok(());
        }
        {
            // Their handlers have finished: not aborted or abandoned any more (`start_report`).
            let mut book = lock(&self.shared.book);
            for (report, _) in &reports {
                book.start_report(&report.step_id, report.attempt);
            }
        }
        {
            // Checked under the queue's lock: the flusher empties the queue under it after the
            // core closes, so no report can slip in behind that and wait for ever.
            let mut queue = lock(&self.shared.reports);
            if self.shared.closed.load(Ordering::Acquire) {
                return Err(CoreError::closed());
            }
            let now = Instant::now();
            queue
                .queue
                .extend(reports.into_iter().map(|(report, reply)| Pending {
                    report,
                    reply,
                    queued_at: now,
                }));
        }
        self.shared.report_queued.notify_one();
        Ok(())
    }
}

/// Reports queued together by `queue_many`, in their array's order: a receiver for each one
/// queued, or why it was refused.
pub struct QueuedReports {
    answers: Vec<Result<oneshot::Receiver<Answer>, CoreError>>,
}

impl QueuedReports {
    /// Waits until every report is settled; a JSON array of their envelopes in order.
    pub async fn settled(self) -> String {
        let mut envelopes = Vec::with_capacity(self.answers.len());
        for answer in self.answers {
            let result = match answer {
                Ok(receiver) => receiver.await.unwrap_or_else(|_| Err(CoreError::closed())),
                Err(error) => Err(error),
            };
            envelopes.push(envelope::result(result));
        }
        json_array(&envelopes)
    }
}
