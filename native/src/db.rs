//! The database side of the core: a deadpool-postgres pool of tokio-postgres connections with
//! per-connection prepared statements, one method per SQL protocol function the core calls, and
//! the connection health that counts `reconnects`.
//!
//! Claim rows and report results are turned into the wire JSON (`ClaimedStep`, `ReportResult`)
//! by PostgreSQL itself (`json_build_object(...)::text`): the core passes that text through and
//! only reads the few columns its bookkeeping needs (step id, attempt, delivery, accepted,
//! enqueued). See README.md for the measurement behind this.

use crate::book::{ClaimedStep, Extension, Lease};
use crate::config::Config;
use crate::error::{codes, CoreError};
use crate::log;
use crate::stats::{add, Counters};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;

/// A claimed row as a `ClaimedStep` (camelCase, ISO timestamps, numbers for message ids), from
/// the columns of `tasker.claim_steps` under the alias `c`. A macro so both statements that
/// return claimed rows render them with one text.
macro_rules! claimed_step_json {
    () => {
        "CASE WHEN c.outcome = 'claimed' THEN json_build_object(
    'msgId', c.msg_id, 'taskId', c.task_id, 'stepId', c.step_id, 'stepName', c.step_name,
    'handler', c.handler, 'stepType', c.step_type, 'attempt', c.attempt,
    'maxAttempts', c.max_attempts, 'delivery', c.delivery, 'timeoutMs', c.timeout_ms,
    'leaseExpiresAt', c.lease_expires_at, 'namespace', c.namespace, 'taskName', c.task_name,
    'taskVersion', c.task_version, 'correlationId', c.correlation_id,
    'context', coalesce(c.context, '{}'::jsonb), 'inputs', coalesce(c.inputs, '{}'::jsonb),
    'dependencyResults', coalesce(c.dependency_results, '{}'::jsonb),
    'successors', coalesce(c.successors, '{}'::text[]),
    'dependencyNames', coalesce(c.dependency_names, '{}'::text[]))::text END"
    };
}

/// `tasker.claim_steps`, each claimed row also rendered as a `ClaimedStep` by the database.
const CLAIM_SQL: &str = concat!(
    "SELECT c.outcome, c.step_id::text, c.attempt, c.delivery, c.namespace, ",
    claimed_step_json!(),
    " FROM tasker.claim_steps($1::text, $2::int4, $3::int4, $4::text) c"
);

/// `tasker.report_and_claim`: the report rows (kind 'report') as `report_steps` returns them,
/// then what the claim returned (its rows come back as jsonb and are expanded to claim_steps'
/// columns, so both statements render a claimed step with the same text).
const REPORT_AND_CLAIM_SQL: &str = concat!(
    "SELECT r.kind, r.step_id::text, r.accepted, r.enqueued, CASE WHEN r.kind = 'report' THEN
  json_build_object(
    'stepId', r.step_id, 'accepted', r.accepted, 'reason', r.reason, 'stepState', r.step_state,
    'taskState', r.task_state, 'nextRetryAt', r.next_retry_at, 'enqueued', r.enqueued)::text
END, c.outcome, c.step_id::text, c.attempt, c.delivery, c.namespace, ",
    claimed_step_json!(),
    " FROM tasker.report_and_claim($1::text::jsonb, $2::text, $3::int4, $4::int4) r
LEFT JOIN LATERAL jsonb_to_record(r.claim) AS c(
  outcome text, msg_id bigint, task_id uuid, step_id uuid, step_name text, handler text,
  step_type text, attempt int, max_attempts int, delivery int, timeout_ms int,
  lease_expires_at timestamptz, namespace text, task_name text, task_version text,
  correlation_id text, context jsonb, inputs jsonb, dependency_results jsonb, successors text[],
  dependency_names text[]
) ON r.kind <> 'report'"
);

const EXTEND_SQL: &str = "\
SELECT e.extended, e.abort
FROM tasker.extend_leases($1::text[]::uuid[], $2::int4[], $3::int4[], $4::int4) e";

const RELEASE_SQL: &str = "\
SELECT r.released
FROM tasker.release_leases($1::text[]::uuid[], $2::int4[], $3::int4[], $4::text) r";

/// Whether the database is reachable, as last observed by any operation; turns "lost, then
/// regained" into the `reconnects` counter.
#[derive(Debug, Default)]
pub struct Health {
    down: AtomicBool,
}

impl Health {
    /// Records the outcome of an operation. Returns true when this success ended an outage.
    pub fn observe<T>(&self, result: &Result<T, CoreError>, counters: &Counters) -> bool {
        match result {
            Ok(_) => {
                if self.down.swap(false, Ordering::AcqRel) {
                    add(&counters.reconnects, 1);
                    log::debug("database connection regained");
                    return true;
                }
                false
            }
            Err(error) if error.code == codes::DB_CONNECTION_FAILED => {
                if !self.down.swap(true, Ordering::AcqRel) {
                    log::debug(&format!("database connection lost: {}", error.message));
                }
                false
            }
            Err(_) => false,
        }
    }
}

/// What one claim round trip read.
#[derive(Debug)]
pub struct ClaimBatch {
    pub claimed: Vec<ClaimedStep>,
    pub discarded: usize,
    pub deferred: usize,
    /// When the round trip was sent plus the lease asked for (`ClaimedStep::lease_until`).
    lease_until: std::time::Instant,
}

impl ClaimBatch {
    /// An empty batch of a claim whose leases last until `lease_until`.
    fn new(lease_until: std::time::Instant) -> Self {
        Self {
            claimed: Vec::new(),
            discarded: 0,
            deferred: 0,
            lease_until,
        }
    }

    /// Counts one row of claim_steps' outcome, step id, attempt, delivery, namespace and
    /// rendered step, found from column `at` on. `namespace` is the one claimed from, when the
    /// row's own is not needed.
    fn add(
        &mut self,
        row: &tokio_postgres::Row,
        at: usize,
        namespace: Option<&Arc<str>>,
    ) -> Result<(), CoreError> {
        let outcome: Option<&str> = row.try_get(at).map_err(CoreError::from)?;
        match outcome {
            Some("claimed") => {}
            Some("discarded") => {
                self.discarded += 1;
                return Ok(());
            }
            _ => {
                self.deferred += 1;
                return Ok(());
            }
        }
        let step_id: Option<String> = row.try_get(at + 1).map_err(CoreError::from)?;
        let attempt: Option<i32> = row.try_get(at + 2).map_err(CoreError::from)?;
        let delivery: Option<i32> = row.try_get(at + 3).map_err(CoreError::from)?;
        let own_namespace: Option<String> = row.try_get(at + 4).map_err(CoreError::from)?;
        let json: Option<String> = row.try_get(at + 5).map_err(CoreError::from)?;
        let namespace = match (namespace, own_namespace) {
            (Some(namespace), _) => Some(namespace.clone()),
            (None, Some(own)) => Some(Arc::from(own)),
            (None, None) => None,
        };
        let (Some(step_id), Some(attempt), Some(delivery), Some(namespace), Some(json)) =
            (step_id, attempt, delivery, namespace, json)
        else {
            // claim_steps fills these for every claimed row; a NULL means a schema this core
            // does not understand. The lease will expire.
            log::warn("claim_steps returned an incomplete claimed row; skipped");
            return Ok(());
        };
        self.claimed.push(ClaimedStep {
            lease: Lease {
                step_id,
                attempt,
                delivery,
            },
            namespace,
            json,
            claimed_at: std::time::Instant::now(),
            lease_until: self.lease_until,
        });
        Ok(())
    }

    /// Messages read from the queue (claimed or not).
    pub fn read(&self) -> usize {
        self.claimed.len() + self.discarded + self.deferred
    }
}

/// When a lease of `lease_seconds` asked for by a round trip sent now has certainly expired on
/// the server (`ClaimedStep::lease_until`).
pub fn lease_deadline(lease_seconds: u32) -> std::time::Instant {
    std::time::Instant::now() + std::time::Duration::from_secs(u64::from(lease_seconds))
}

/// A report row: step id, accepted, enqueued and the rendered result, from column `at` on.
fn report_row(row: &tokio_postgres::Row, at: usize) -> Result<ReportRow, tokio_postgres::Error> {
    Ok(ReportRow {
        step_id: row.try_get(at)?,
        accepted: row.try_get(at + 1)?,
        enqueued: row.try_get::<_, Option<i32>>(at + 2)?.unwrap_or(0),
        json: row.try_get(at + 3)?,
    })
}

/// One report row of `report_and_claim` (as `report_steps` returns it).
#[derive(Debug)]
pub struct ReportRow {
    pub step_id: String,
    pub accepted: bool,
    pub enqueued: i32,
    /// The `ReportResult` JSON.
    pub json: String,
}

pub struct Db {
    pool: Pool,
    /// Bound on one round trip, so a server that went silent (network cut, no RST) cannot hang
    /// a loop until TCP gives up; the operation is then retried like any lost connection.
    round_trip_timeout: Duration,
    pg_config: tokio_postgres::Config,
    pub health: Health,
    pub counters: Arc<Counters>,
}

/// The connection settings: the URL's, plus a connect timeout, TCP keepalives that notice a
/// vanished server within about half a minute, and an application name, unless the URL says
/// otherwise.
pub fn pg_config(config: &Config) -> Result<tokio_postgres::Config, CoreError> {
    let mut pg = tokio_postgres::Config::from_str(&config.database_url).map_err(|e| {
        // The URL is not repeated: it may hold a password.
        CoreError::new(
            codes::CONFIG_INVALID,
            format!("databaseUrl is invalid: {e}"),
        )
    })?;
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(Duration::from_secs(5));
    }
    if pg.get_application_name().is_none() {
        pg.application_name(format!("tasker-native {}", config.worker_id));
    }
    pg.keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3);
    Ok(pg)
}

fn rows_error(what: &str, error: tokio_postgres::Error) -> CoreError {
    let mut converted = CoreError::from(error);
    if converted.sql_state.is_none() {
        converted.message = format!("{what}: {}", converted.message);
    }
    converted
}

impl Db {
    /// Builds the pool and opens one connection, so a wrong URL, password or a database without
    /// the `tasker` schema fails here rather than in a background loop.
    pub async fn connect(config: &Config, counters: Arc<Counters>) -> Result<Self, CoreError> {
        let pg_config = pg_config(config)?;
        let manager = Manager::from_config(
            pg_config.clone(),
            NoTls,
            ManagerConfig {
                // A connection whose socket closed is dropped on return; a live one is reused
                // without a test query (the next statement tells soon enough).
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| CoreError::new(codes::INTERNAL, format!("database pool: {e}")))?;
        let db = Self {
            pool,
            round_trip_timeout: Duration::from_secs(u64::from(config.lease_seconds).max(60)),
            pg_config,
            health: Health::default(),
            counters,
        };
        let client = db.pool.get().await.map_err(|e| {
            let mut error = CoreError::from(e);
            error.code = codes::DB_CONNECTION_FAILED.to_owned();
            error.message = format!("cannot connect to PostgreSQL: {}", error.message);
            error
        })?;
        let row = client
            .query_one("SELECT to_regproc('tasker.claim_steps') IS NOT NULL AND to_regproc('tasker.release_leases') IS NOT NULL AND to_regproc('tasker.report_and_claim') IS NOT NULL", &[])
            .await
            .map_err(CoreError::from)?;
        let installed: bool = row.try_get(0).map_err(CoreError::from)?;
        if !installed {
            return Err(CoreError::new(
                codes::SCHEMA_MISSING,
                "the database has no tasker schema (or an old one without report_and_claim): run `tasker-ctl migrate`",
            ));
        }
        Ok(db)
    }

    /// Connection settings for the dedicated LISTEN connection.
    pub fn pg_config(&self) -> &tokio_postgres::Config {
        &self.pg_config
    }

    pub fn close(&self) {
        self.pool.close();
    }

    /// Runs one round trip under the timeout and records its outcome in `health`.
    async fn run<T>(
        &self,
        operation: impl std::future::Future<Output = Result<T, CoreError>>,
    ) -> Result<T, CoreError> {
        let result = match tokio::time::timeout(self.round_trip_timeout, operation).await {
            Ok(result) => result,
            Err(_) => Err(CoreError::connection(format!(
                "database round trip timed out after {} s",
                self.round_trip_timeout.as_secs()
            ))),
        };
        self.health.observe(&result, &self.counters);
        result
    }

    pub async fn claim(
        &self,
        namespace: &Arc<str>,
        batch_size: u32,
        lease_seconds: u32,
        worker_id: &str,
    ) -> Result<ClaimBatch, CoreError> {
        let lease_until = lease_deadline(lease_seconds);
        self.run(async {
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(CLAIM_SQL).await?;
            // Both bounded by the config's validation (≤ 1000, ≤ 86400).
            let batch = batch_size as i32;
            let lease = lease_seconds as i32;
            let rows = client
                .query(&statement, &[&&**namespace, &batch, &lease, &worker_id])
                .await
                .map_err(|e| rows_error("claim_steps", e))?;
            let mut out = ClaimBatch::new(lease_until);
            for row in &rows {
                out.add(row, 0, Some(namespace))?;
            }
            Ok::<_, CoreError>(out)
        })
        .await
    }

    /// Commits reports and, in the same transaction, claims up to `claim_max` steps from the
    /// namespaces where they enqueued successors (`tasker.report_and_claim`).
    pub async fn report_and_claim(
        &self,
        wire: &str,
        worker_id: &str,
        claim_max: u32,
        lease_seconds: u32,
    ) -> Result<(Vec<ReportRow>, ClaimBatch), CoreError> {
        let lease_until = lease_deadline(lease_seconds);
        self.run(async {
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(REPORT_AND_CLAIM_SQL).await?;
            // Both bounded by the config's validation (≤ 1000, ≤ 86400).
            let claim_max = claim_max.min(1000) as i32;
            let lease = lease_seconds as i32;
            let rows = client
                .query(&statement, &[&wire, &worker_id, &claim_max, &lease])
                .await
                .map_err(|e| rows_error("report_and_claim", e))?;
            let mut reports = Vec::new();
            let mut claims = ClaimBatch::new(lease_until);
            for row in &rows {
                let kind: &str = row.try_get(0).map_err(CoreError::from)?;
                if kind == "report" {
                    reports.push(report_row(row, 1).map_err(CoreError::from)?);
                } else {
                    claims.add(row, 5, None)?;
                }
            }
            Ok::<_, CoreError>((reports, claims))
        })
        .await
    }

    /// `extend_leases` for `leases`; rows come back in the order asked and are paired with them.
    pub async fn extend(
        &self,
        leases: &[Lease],
        lease_seconds: u32,
    ) -> Result<Vec<Extension>, CoreError> {
        self.run(async {
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(EXTEND_SQL).await?;
            let (ids, attempts, deliveries) = columns(leases);
            let lease = lease_seconds as i32;
            let rows = client
                .query(&statement, &[&ids, &attempts, &deliveries, &lease])
                .await
                .map_err(|e| rows_error("extend_leases", e))?;
            if rows.len() != leases.len() {
                return Err(CoreError::new(
                    codes::INTERNAL,
                    format!(
                        "extend_leases answered {} rows for {} leases",
                        rows.len(),
                        leases.len()
                    ),
                ));
            }
            leases
                .iter()
                .zip(rows)
                .map(|(lease, row)| {
                    Ok(Extension {
                        lease: lease.clone(),
                        extended: row.try_get::<_, Option<bool>>(0)?.unwrap_or(false),
                        abort: row.try_get::<_, Option<bool>>(1)?.unwrap_or(true),
                    })
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()
                .map_err(CoreError::from)
        })
        .await
    }

    /// `release_leases`; returns how many were released.
    pub async fn release(&self, leases: &[Lease], worker_id: &str) -> Result<usize, CoreError> {
        self.run(async {
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(RELEASE_SQL).await?;
            let (ids, attempts, deliveries) = columns(leases);
            let rows = client
                .query(&statement, &[&ids, &attempts, &deliveries, &worker_id])
                .await
                .map_err(|e| rows_error("release_leases", e))?;
            let mut released = 0;
            for row in rows {
                if row.try_get::<_, Option<bool>>(0).map_err(CoreError::from)? == Some(true) {
                    released += 1;
                }
            }
            Ok(released)
        })
        .await
    }
}

fn columns(leases: &[Lease]) -> (Vec<&str>, Vec<i32>, Vec<i32>) {
    (
        leases.iter().map(|l| l.step_id.as_str()).collect(),
        leases.iter().map(|l| l.attempt).collect(),
        leases.iter().map(|l| l.delivery).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_counts_a_recovery_once() {
        let health = Health::default();
        let counters = Counters::default();
        let lost: Result<(), CoreError> = Err(CoreError::connection("gone"));
        let ok: Result<(), CoreError> = Ok(());
        assert!(!health.observe(&ok, &counters));
        health.observe(&lost, &counters);
        health.observe(&lost, &counters);
        assert!(health.observe(&ok, &counters));
        assert!(!health.observe(&ok, &counters));
        assert_eq!(counters.reconnects.load(Ordering::Relaxed), 1);
        // A protocol error is not an outage.
        let refused: Result<(), CoreError> = Err(CoreError::invalid_report("x", "y"));
        health.observe(&refused, &counters);
        assert!(!health.observe(&ok, &counters));
    }

    #[test]
    fn pg_config_keeps_url_settings_and_adds_defaults() {
        let config = Config::from_json(
            r#"{"databaseUrl":"postgres://u:p@localhost:5432/db?connect_timeout=2","workerId":"w1","namespaces":["a"]}"#,
        )
        .unwrap();
        let pg = pg_config(&config).unwrap();
        assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_secs(2)));
        assert_eq!(pg.get_application_name(), Some("tasker-native w1"));
        assert_eq!(pg.get_dbname(), Some("db"));
    }

    #[test]
    fn pg_config_refuses_a_bad_url_without_echoing_it() {
        let config = Config::from_json(
            r#"{"databaseUrl":"postgres://u:secret@host:notaport/db","workerId":"w","namespaces":["a"]}"#,
        )
        .unwrap();
        let error = pg_config(&config).unwrap_err();
        assert_eq!(error.code, codes::CONFIG_INVALID);
        assert!(!error.message.contains("secret"));
    }
}
