//! The one error type of the core, and how database failures are classified.
//!
//! Every failure that crosses a face (napi or C ABI) becomes a [`CoreError`]: a stable `code`, a
//! message, and for errors raised by the SQL protocol the SQLSTATE and DETAIL, so the TypeScript
//! adapters can build the same typed protocol errors the `pg` binding throws.

use serde::Serialize;
use std::fmt;

/// Stable error codes (the `code` of an error envelope).
pub mod codes {
    /// The configuration JSON is not valid or a value is out of range.
    pub const CONFIG_INVALID: &str = "CONFIG_INVALID";
    /// Connecting to PostgreSQL failed.
    pub const DB_CONNECTION_FAILED: &str = "DB_CONNECTION_FAILED";
    /// The database has no `tasker` schema (migrations not applied).
    pub const SCHEMA_MISSING: &str = "SCHEMA_MISSING";
    /// The database raised an error (see `sqlState`).
    pub const DB_ERROR: &str = "DB_ERROR";
    /// A report was refused before it reached the database.
    pub const REPORT_INVALID: &str = "PROTOCOL_ARGUMENT_INVALID";
    /// The core has drained and closed.
    pub const CORE_CLOSED: &str = "CORE_CLOSED";
    /// A C ABI pointer argument was NULL.
    pub const NULL_POINTER: &str = "NULL_POINTER";
    /// A C ABI string argument was not UTF-8.
    pub const INVALID_UTF8: &str = "INVALID_UTF8";
    /// A string argument was longer than [`crate::MAX_INPUT_BYTES`].
    pub const INPUT_TOO_LARGE: &str = "INPUT_TOO_LARGE";
    /// A C ABI handle does not name a live core (never created, or drained).
    pub const UNKNOWN_HANDLE: &str = "UNKNOWN_HANDLE";
    /// A panic was caught at the boundary (a bug in the core).
    pub const PANIC: &str = "PANIC";
    /// The async runtime could not be started.
    pub const RUNTIME: &str = "RUNTIME_FAILED";
    /// Anything else that should not happen.
    pub const INTERNAL: &str = "INTERNAL";
}

/// A failure of the core, ready to be serialised into an error envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CoreError {
    pub code: String,
    pub message: String,
    /// SQLSTATE of a database error (e.g. `TK007`), so adapters can map protocol errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_state: Option<String>,
    /// The database's DETAIL (the protocol puts JSON there naming the field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// True when the operation may succeed if retried (connection lost, deadlock…).
    #[serde(skip)]
    pub transient: bool,
}

impl CoreError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            sql_state: None,
            detail: None,
            transient: false,
        }
    }

    /// A failure to reach the database: always worth retrying.
    pub fn connection(message: impl Into<String>) -> Self {
        Self {
            transient: true,
            ..Self::new(codes::DB_CONNECTION_FAILED, message)
        }
    }

    /// A report refused before it reached the database, shaped like the database's own TK007 so
    /// the adapters raise the same `InvalidProtocolArgumentError` the `pg` binding would.
    pub fn invalid_report(field: &str, message: impl Into<String>) -> Self {
        Self {
            sql_state: Some("TK007".to_owned()),
            detail: Some(serde_json::json!({ "field": field }).to_string()),
            ..Self::new(codes::REPORT_INVALID, message)
        }
    }

    pub fn closed() -> Self {
        Self::new(
            codes::CORE_CLOSED,
            "the worker core has drained and is closed",
        )
    }

    /// JSON of this error (the `error` member of an envelope).
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings cannot fail; fall back to a fixed text all the same so
        // no caller ever has to handle it.
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(
                r#"{{"code":"{}","message":"error could not be serialised"}}"#,
                codes::INTERNAL
            )
        })
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sql_state {
            Some(state) => write!(f, "{} ({}): {}", self.code, state, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl std::error::Error for CoreError {}

/// SQLSTATEs after which the same statement may well succeed: the connection or server went
/// away (class 08, admin shutdown, crash recovery) or the transaction lost a race (serialization
/// failure, deadlock). The protocol's functions are safe to repeat in all these cases.
pub fn is_transient_sql_state(state: &str) -> bool {
    state.starts_with("08")
        || matches!(
            state,
            "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300" | "55P03"
        )
}

/// An error and its sources, "outer: inner: innermost" (tokio-postgres puts the useful part,
/// e.g. "Connection refused", in the source).
pub fn describe_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}

/// SQLSTATEs that mean the session is gone or never started: class 08 and the server shutting
/// down or starting up.
fn is_connection_sql_state(state: &str) -> bool {
    state.starts_with("08") || matches!(state, "57P01" | "57P02" | "57P03")
}

impl From<tokio_postgres::Error> for CoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        if let Some(db) = error.as_db_error() {
            let state = db.code().code().to_owned();
            let code = if is_connection_sql_state(&state) {
                codes::DB_CONNECTION_FAILED
            } else {
                codes::DB_ERROR
            };
            return Self {
                transient: is_transient_sql_state(&state),
                code: code.to_owned(),
                message: db.message().to_owned(),
                detail: db.detail().map(str::to_owned),
                sql_state: Some(state),
            };
        }
        // No server error: the socket closed, an I/O error, a protocol error, or a timeout. All
        // mean the connection is gone.
        Self::connection(describe_chain(&error))
    }
}

impl From<deadpool_postgres::PoolError> for CoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(inner) => {
                // Opening a connection failed. Worth retrying unless the server refused who we
                // are (class 28: authentication) or the database does not exist (3D000).
                let mut converted = Self::from(inner);
                let permanent = converted
                    .sql_state
                    .as_deref()
                    .is_some_and(|s| s.starts_with("28") || s == "3D000");
                converted.code = codes::DB_CONNECTION_FAILED.to_owned();
                converted.transient = !permanent;
                converted
            }
            deadpool_postgres::PoolError::Closed => Self::closed(),
            other => Self::connection(format!("database pool: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_states() {
        assert!(is_transient_sql_state("08006"));
        assert!(is_transient_sql_state("57P01"));
        assert!(is_transient_sql_state("40P01"));
        assert!(!is_transient_sql_state("TK007"));
        assert!(!is_transient_sql_state("42883"));
    }

    #[test]
    fn json_skips_absent_fields() {
        let error = CoreError::new(codes::NULL_POINTER, "config_json is NULL");
        assert_eq!(
            error.to_json(),
            r#"{"code":"NULL_POINTER","message":"config_json is NULL"}"#
        );
        let report = CoreError::invalid_report("attempt", "bad");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["sqlState"], "TK007");
        assert_eq!(json["detail"], r#"{"field":"attempt"}"#);
    }
}
