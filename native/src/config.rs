//! `WorkerCoreConfig` (sdk/src/binding/types.ts): parsing the JSON, applying the defaults of
//! docs/bindings.md and refusing values the SQL protocol would refuse later anyway, so a bad
//! setting fails at `create` with a message naming it rather than in a background loop.

use crate::error::{codes, CoreError};
use serde::Deserialize;
use std::time::Duration;

/// How a worker learns that work is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Mode {
    /// LISTEN plus a polling safety net.
    Hybrid,
    /// LISTEN only (a notification's payload schedules delayed wake-ups).
    EventDrivenOnly,
    /// Polling only; no LISTEN connection.
    PollingOnly,
}

impl Mode {
    pub fn listens(self) -> bool {
        !matches!(self, Mode::PollingOnly)
    }
}

/// The JSON as the TypeScript side writes it; every optional field may be absent or null.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    database_url: Option<String>,
    worker_id: Option<String>,
    namespaces: Option<Vec<String>>,
    mode: Option<Mode>,
    prefetch: Option<f64>,
    batch_size: Option<f64>,
    max_batch_size: Option<f64>,
    lease_seconds: Option<f64>,
    heartbeat_ms: Option<f64>,
    poll_interval_ms: Option<f64>,
    report_batch_max: Option<f64>,
    report_linger_ms: Option<f64>,
    pool_size: Option<f64>,
}

/// A validated configuration with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub database_url: String,
    pub worker_id: String,
    pub namespaces: Vec<String>,
    pub mode: Mode,
    pub prefetch: usize,
    pub batch_size: u32,
    pub max_batch_size: u32,
    pub lease_seconds: u32,
    pub heartbeat: Duration,
    pub poll_interval: Duration,
    pub report_batch_max: usize,
    pub report_linger: Duration,
    pub pool_size: usize,
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::new(codes::CONFIG_INVALID, message)
}

/// A whole number from `min` to `max`, or `default` when absent. JSON numbers arrive as f64 so
/// that `2.5` or `1e20` are refused with a message instead of being truncated.
fn integer(
    name: &str,
    value: Option<f64>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, CoreError> {
    let Some(value) = value else {
        return Ok(default);
    };
    if value.fract() != 0.0 || value < min as f64 || value > max as f64 {
        return Err(invalid(format!(
            "{name} = {value} is invalid: expected a whole number from {min} to {max}"
        )));
    }
    // In range and whole, so the conversion is exact.
    Ok(value as u64)
}

/// The namespace pattern of `tasker.queue_name`; checked here so a typo fails at create.
pub fn is_valid_namespace(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 34
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

impl Config {
    pub fn from_json(json: &str) -> Result<Self, CoreError> {
        let raw: RawConfig = serde_json::from_str(json).map_err(|e| {
            CoreError::new(
                codes::CONFIG_INVALID,
                format!("invalid worker core config: {e}"),
            )
        })?;

        let database_url = raw
            .database_url
            .filter(|url| !url.trim().is_empty())
            .ok_or_else(|| invalid("databaseUrl is required"))?;
        let worker_id = raw
            .worker_id
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| invalid("workerId is required"))?;
        let mut namespaces = raw
            .namespaces
            .ok_or_else(|| invalid("namespaces is required"))?;
        if namespaces.is_empty() {
            return Err(invalid("namespaces must name at least one namespace"));
        }
        if let Some(bad) = namespaces.iter().find(|n| !is_valid_namespace(n)) {
            return Err(invalid(format!(
                "namespace {bad:?} is invalid: expected ^[a-z][a-z0-9_]{{0,33}}$"
            )));
        }
        // One loop per namespace: a namespace named twice would get two loops.
        namespaces.sort();
        namespaces.dedup();

        let mode = raw.mode.unwrap_or(Mode::Hybrid);
        // Limits are those of claim_steps (batch 1..1000, lease 1..86400 s).
        let batch_size = integer("batchSize", raw.batch_size, 10, 1, 1000)?;
        // Claims grow from batchSize to maxBatchSize while handlers keep up (claim_size.rs).
        let max_batch_size = integer(
            "maxBatchSize",
            raw.max_batch_size,
            batch_size.max(100),
            batch_size,
            1000,
        )?;
        let prefetch = integer("prefetch", raw.prefetch, 2 * max_batch_size, 1, 10_000_000)?;
        let lease_seconds = integer("leaseSeconds", raw.lease_seconds, 30, 1, 86_400)?;
        let heartbeat_ms = integer(
            "heartbeatMs",
            raw.heartbeat_ms,
            (lease_seconds * 1000 / 3).max(1),
            1,
            86_400_000,
        )?;
        let default_poll = if mode == Mode::PollingOnly { 100 } else { 1000 };
        let poll_ms = integer(
            "pollIntervalMs",
            raw.poll_interval_ms,
            default_poll,
            1,
            86_400_000,
        )?;
        let report_batch_max = integer("reportBatchMax", raw.report_batch_max, 100, 1, 1_000_000)?;
        let linger_ms = integer("reportLingerMs", raw.report_linger_ms, 0, 0, 86_400_000)?;
        let pool_size = integer("poolSize", raw.pool_size, 4, 1, 10_000)?;

        Ok(Self {
            database_url,
            worker_id,
            namespaces,
            mode,
            prefetch: prefetch as usize,
            batch_size: batch_size as u32,
            max_batch_size: max_batch_size as u32,
            lease_seconds: lease_seconds as u32,
            heartbeat: Duration::from_millis(heartbeat_ms),
            poll_interval: Duration::from_millis(poll_ms),
            report_batch_max: report_batch_max as usize,
            report_linger: Duration::from_millis(linger_ms),
            pool_size: pool_size as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        r#"{"databaseUrl":"postgres://u@h/db","workerId":"w1","namespaces":["shop"]}"#;

    #[test]
    fn defaults_follow_the_contract() {
        let config = Config::from_json(MINIMAL).unwrap();
        assert_eq!(config.mode, Mode::Hybrid);
        assert_eq!(config.batch_size, 10);
        assert_eq!(config.max_batch_size, 100);
        assert_eq!(config.prefetch, 200);
        assert_eq!(config.lease_seconds, 30);
        assert_eq!(config.heartbeat, Duration::from_millis(10_000));
        assert_eq!(config.poll_interval, Duration::from_millis(1000));
        assert_eq!(config.report_batch_max, 100);
        assert_eq!(config.report_linger, Duration::ZERO);
        assert_eq!(config.pool_size, 4);
    }

    #[test]
    fn polling_only_polls_faster_by_default() {
        let json = r#"{"databaseUrl":"x","workerId":"w","namespaces":["a"],"mode":"PollingOnly","batchSize":5}"#;
        let config = Config::from_json(json).unwrap();
        assert_eq!(config.poll_interval, Duration::from_millis(100));
        assert_eq!((config.max_batch_size, config.prefetch), (100, 200));
        assert!(!config.mode.listens());
        let big = r#"{"databaseUrl":"x","workerId":"w","namespaces":["a"],"batchSize":150}"#;
        let config = Config::from_json(big).unwrap();
        assert_eq!((config.max_batch_size, config.prefetch), (150, 300));
    }

    #[test]
    fn null_means_default() {
        let json =
            r#"{"databaseUrl":"x","workerId":"w","namespaces":["a"],"prefetch":null,"mode":null}"#;
        assert_eq!(Config::from_json(json).unwrap().prefetch, 200);
    }

    #[test]
    fn refuses_bad_values_naming_them() {
        let cases = [
            (r#"{"workerId":"w","namespaces":["a"]}"#, "databaseUrl"),
            (r#"{"databaseUrl":"x","namespaces":["a"]}"#, "workerId"),
            (
                r#"{"databaseUrl":"x","workerId":"w","namespaces":[]}"#,
                "namespaces",
            ),
            (
                r#"{"databaseUrl":"x","workerId":"w","namespaces":["A;drop"]}"#,
                "A;drop",
            ),
            (
                r#"{"databaseUrl":"x","workerId":"w","namespaces":["a"],"batchSize":0}"#,
                "batchSize",
            ),
            (
                r#"{"databaseUrl":"x","workerId":"w","namespaces":["a"],"batchSize":2.5}"#,
                "batchSize",
            ),
            (
                r#"{"databaseUrl":"x","workerId":"w","namespaces":["a"],"batchSize":20,"maxBatchSize":10}"#,
                "maxBatchSize",
            ),
            (
                r#"{"databaseUrl":"x","workerId":"w","namespaces":["a"],"leaseSeconds":100000}"#,
                "leaseSeconds",
            ),
            (
                r#"{"databaseUrl":"x","workerId":"w","namespaces":["a"],"mode":"Sometimes"}"#,
                "Sometimes",
            ),
            (r#"[1,2]"#, "config"),
            (r#"{"#, "config"),
        ];
        for (json, needle) in cases {
            let error = Config::from_json(json).unwrap_err();
            assert_eq!(error.code, codes::CONFIG_INVALID, "{json}");
            assert!(error.message.contains(needle), "{json}: {}", error.message);
        }
    }

    #[test]
    fn namespaces_are_deduplicated() {
        let json = r#"{"databaseUrl":"x","workerId":"w","namespaces":["b","a","b"]}"#;
        assert_eq!(Config::from_json(json).unwrap().namespaces, vec!["a", "b"]);
    }

    #[test]
    fn namespace_pattern() {
        assert!(is_valid_namespace("shop"));
        assert!(is_valid_namespace("a1_b"));
        assert!(!is_valid_namespace(""));
        assert!(!is_valid_namespace("1a"));
        assert!(!is_valid_namespace("Shop"));
        assert!(!is_valid_namespace(&"a".repeat(35)));
    }
}
