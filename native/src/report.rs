//! Reports: reading a `StepReport` (JSON), refusing what `tasker.report_steps` would refuse
//! for the whole batch, choosing which queued reports share a round trip, and writing the batch
//! in the wire format `report_steps` reads.
//!
//! `result`, `error` and `batch` (a batch step's fan-out items) are handler output of any size:
//! they are kept as raw JSON text and copied into the batch without being parsed into values.

use crate::error::CoreError;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Number;
use std::collections::{HashSet, VecDeque};

/// Outcomes `report_step` accepts.
const OUTCOMES: [&str; 3] = ["success", "retryable_failure", "permanent_failure"];
/// `tasker._message_int` reads at most nine digits.
const MAX_LEASE_NUMBER: u64 = 999_999_999;
/// `report_step`'s bound on `retry_after_ms`.
const MAX_RETRY_AFTER_MS: u64 = 86_400_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReport {
    step_id: Option<String>,
    attempt: Option<Number>,
    delivery: Option<Number>,
    outcome: Option<String>,
    result: Option<Box<RawValue>>,
    error: Option<Box<RawValue>>,
    retry_after_ms: Option<Number>,
    activate: Option<Box<RawValue>>,
    batch: Option<Box<RawValue>>,
}

/// A validated report.
#[derive(Debug)]
pub struct Report {
    /// Lower case, as the database writes uuids.
    pub step_id: String,
    pub attempt: i32,
    pub delivery: i32,
    pub outcome: String,
    pub result: Option<Box<RawValue>>,
    pub error: Option<Box<RawValue>>,
    pub retry_after_ms: Option<u32>,
    pub activate: Option<Vec<String>>,
    /// A batch step's items, passed on as written: `report_step` judges them per report (a
    /// value that is not a list fails that step, not the batch it travels in).
    pub batch: Option<Box<RawValue>>,
}

/// A canonical uuid (what `tasker._message_uuid` accepts), lower-cased.
fn normalise_uuid(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    for (i, b) in bytes.iter().enumerate() {
        let ok = match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        };
        if !ok {
            return None;
        }
    }
    Some(text.to_ascii_lowercase())
}

fn lease_number(value: Option<&Number>) -> Option<i32> {
    value
        .and_then(Number::as_u64)
        .filter(|n| *n <= MAX_LEASE_NUMBER)
        // ≤ 999,999,999 fits an i32.
        .map(|n| n as i32)
}

impl Report {
    /// Reads and checks a `StepReport`. Each check mirrors one that `report_steps` makes, which
    /// would otherwise fail the whole batch the report travels in.
    pub fn parse(json: &str) -> Result<Self, CoreError> {
        let raw: RawReport = serde_json::from_str(json)
            .map_err(|e| CoreError::invalid_report("report", format!("invalid report: {e}")))?;
        let step_id = raw.step_id.as_deref().and_then(normalise_uuid);
        let attempt = lease_number(raw.attempt.as_ref());
        let delivery = lease_number(raw.delivery.as_ref());
        let (Some(step_id), Some(attempt), Some(delivery)) = (step_id, attempt, delivery) else {
            return Err(CoreError::invalid_report(
                "report",
                "invalid report: stepId (uuid), attempt and delivery (integers) are required",
            ));
        };
        let outcome = raw.outcome.unwrap_or_default();
        if !OUTCOMES.contains(&outcome.as_str()) {
            return Err(CoreError::invalid_report(
                "outcome",
                format!(
                    "invalid outcome {outcome:?}: must be success, retryable_failure or permanent_failure"
                ),
            ));
        }
        let retry_after_ms = match raw.retry_after_ms {
            None => None,
            Some(n) => match n.as_u64().filter(|ms| *ms <= MAX_RETRY_AFTER_MS) {
                // ≤ 86,400,000 fits a u32.
                Some(ms) => Some(ms as u32),
                None => {
                    return Err(CoreError::invalid_report(
                        "retry_after_ms",
                        format!(
                            "invalid retry_after_ms {n}: must be from 0 to {MAX_RETRY_AFTER_MS}"
                        ),
                    ))
                }
            },
        };
        let activate = match raw.activate {
            None => None,
            Some(list) => Some(
                serde_json::from_str::<Vec<String>>(list.get()).map_err(|_| {
                    CoreError::invalid_report(
                        "activate",
                        "invalid activate: expected an array of step names",
                    )
                })?,
            ),
        };
        Ok(Self {
            step_id,
            attempt,
            delivery,
            outcome,
            result: raw.result,
            error: raw.error,
            retry_after_ms,
            activate,
            batch: raw.batch,
        })
    }
}

/// One report in `report_steps`' wire format.
#[derive(Serialize)]
struct Wire<'a> {
    step_id: &'a str,
    attempt: i32,
    delivery: i32,
    outcome: &'a str,
    result: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
    retry_after_ms: Option<u32>,
    activate: Option<&'a [String]>,
    batch: Option<&'a RawValue>,
}

/// The JSON array for `report_steps`. `delivery_for` gives the delivery to quote (the running
/// handler's current lease, which may be newer than the one the report names).
pub fn wire_batch<'a, I>(reports: I, mut delivery_for: impl FnMut(&Report) -> i32) -> String
where
    I: IntoIterator<Item = &'a Report>,
{
    let wire: Vec<Wire<'_>> = reports
        .into_iter()
        .map(|r| Wire {
            step_id: &r.step_id,
            attempt: r.attempt,
            delivery: delivery_for(r),
            outcome: &r.outcome,
            result: r.result.as_deref(),
            error: r.error.as_deref(),
            retry_after_ms: r.retry_after_ms,
            activate: r.activate.as_deref(),
            batch: r.batch.as_deref(),
        })
        .collect();
    // Strings, numbers and already-valid raw JSON: serialisation cannot fail, and an empty
    // array would be harmless.
    serde_json::to_string(&wire).unwrap_or_else(|_| "[]".to_owned())
}

/// Takes the next batch from the queue: up to `max` reports in arrival order, never two for the
/// same step (`report_steps` answers by step id, so two would be indistinguishable); those wait
/// for the following batch, in order.
pub fn take_batch<T>(queue: &mut VecDeque<T>, max: usize, step_id: impl Fn(&T) -> &str) -> Vec<T> {
    let mut batch = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut kept = VecDeque::new();
    while let Some(item) = queue.pop_front() {
        if batch.len() >= max {
            kept.push_back(item);
            // Nothing more can join; keep the rest as it is.
            kept.append(queue);
            break;
        }
        if seen.insert(step_id(&item).to_owned()) {
            batch.push(item);
        } else {
            kept.push_back(item);
        }
    }
    *queue = kept;
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0198a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b";

    fn parse(json: &str) -> Result<Report, CoreError> {
        Report::parse(json)
    }

    #[test]
    fn reads_a_full_report_keeping_payloads_raw() {
        let json = format!(
            r#"{{"stepId":"{}","attempt":2,"delivery":1,"outcome":"success","result":{{"a": [1, 2]}},"activate":["x"]}}"#,
            ID.to_uppercase()
        );
        let report = parse(&json).unwrap();
        assert_eq!(report.step_id, ID);
        assert_eq!((report.attempt, report.delivery), (2, 1));
        assert_eq!(report.result.as_ref().unwrap().get(), r#"{"a": [1, 2]}"#);
        assert_eq!(report.activate.as_deref(), Some(&["x".to_owned()][..]));
    }

    #[test]
    fn refuses_what_would_fail_the_batch() {
        let cases = [
            ("not json", "report"),
            (
                r#"{"attempt":1,"delivery":1,"outcome":"success"}"#,
                "stepId",
            ),
            (
                r#"{"stepId":"nope","attempt":1,"delivery":1,"outcome":"success"}"#,
                "stepId",
            ),
            (
                &format!(r#"{{"stepId":"{ID}","attempt":1.5,"delivery":1,"outcome":"success"}}"#),
                "attempt",
            ),
            (
                &format!(r#"{{"stepId":"{ID}","attempt":-1,"delivery":1,"outcome":"success"}}"#),
                "attempt",
            ),
            (
                &format!(r#"{{"stepId":"{ID}","attempt":1,"delivery":1e10,"outcome":"success"}}"#),
                "delivery",
            ),
            (
                &format!(r#"{{"stepId":"{ID}","attempt":1,"delivery":1,"outcome":"maybe"}}"#),
                "outcome",
            ),
            (
                &format!(r#"{{"stepId":"{ID}","attempt":1,"delivery":1}}"#),
                "outcome",
            ),
            (
                &format!(
                    r#"{{"stepId":"{ID}","attempt":1,"delivery":1,"outcome":"retryable_failure","retryAfterMs":-5}}"#
                ),
                "retry_after_ms",
            ),
            (
                &format!(
                    r#"{{"stepId":"{ID}","attempt":1,"delivery":1,"outcome":"success","activate":"x"}}"#
                ),
                "activate",
            ),
        ];
        for (json, needle) in cases {
            let error = parse(json).unwrap_err();
            assert_eq!(error.sql_state.as_deref(), Some("TK007"), "{json}");
            assert!(error.message.contains(needle), "{json}: {}", error.message);
        }
    }

    #[test]
    fn wire_format_is_what_report_steps_reads() {
        let report = parse(&format!(
            r#"{{"stepId":"{ID}","attempt":1,"delivery":1,"outcome":"retryable_failure","error":{{"message":"x"}},"retryAfterMs":250}}"#
        ))
        .unwrap();
        let wire = wire_batch([&report], |_| 3);
        let value: serde_json::Value = serde_json::from_str(&wire).unwrap();
        assert_eq!(
            value,
            serde_json::json!([{
                "step_id": ID, "attempt": 1, "delivery": 3, "outcome": "retryable_failure",
                "result": null, "error": {"message": "x"}, "retry_after_ms": 250, "activate": null,
                "batch": null
            }])
        );
    }

    #[test]
    fn passes_a_fan_out_on_as_written() {
        let report = parse(&format!(
            r#"{{"stepId":"{ID}","attempt":1,"delivery":1,"outcome":"success","result":{{"rows":2}},"batch":[{{"a": 1}}, [2], "three"]}}"#
        ))
        .unwrap();
        assert_eq!(
            report.batch.as_ref().unwrap().get(),
            r#"[{"a": 1}, [2], "three"]"#
        );
        let value: serde_json::Value = serde_json::from_str(&wire_batch([&report], |_| 1)).unwrap();
        assert_eq!(
            value[0]["batch"],
            serde_json::json!([{"a": 1}, [2], "three"])
        );
        assert_eq!(value[0]["result"], serde_json::json!({"rows": 2}));
    }

    #[test]
    fn batches_respect_max_and_never_hold_two_reports_of_one_step() {
        let mut queue: VecDeque<(&str, u32)> =
            VecDeque::from(vec![("a", 1), ("b", 2), ("a", 3), ("c", 4), ("d", 5)]);
        let batch = take_batch(&mut queue, 3, |item| item.0);
        assert_eq!(batch, vec![("a", 1), ("b", 2), ("c", 4)]);
        assert_eq!(queue, VecDeque::from(vec![("a", 3), ("d", 5)]));
        let batch = take_batch(&mut queue, 3, |item| item.0);
        assert_eq!(batch, vec![("a", 3), ("d", 5)]);
        assert!(queue.is_empty());
        assert!(take_batch(&mut queue, 3, |item| item.0).is_empty());
    }

    #[test]
    fn a_lone_report_is_a_batch_of_one() {
        let mut queue = VecDeque::from(vec![("a", 1)]);
        assert_eq!(take_batch(&mut queue, 50, |item| item.0).len(), 1);
    }
}
