//! Measures how claim rows should cross from PostgreSQL to the `ClaimedStep` JSON the faces hand
//! out (the choice made in src/db.rs), on rows shaped like `claim_steps`' with a ~1 KB task
//! context. Read-only: rows come from generate_series, nothing is claimed.
//!
//!   DATABASE_URL=postgres://… cargo run --release --example row_format
//!
//! - passthrough: PostgreSQL renders each row as `ClaimedStep` JSON (json_build_object::text);
//!   Rust reads four bookkeeping columns and joins the texts (what the core does);
//! - typed: Rust decodes every column (jsonb into serde_json::Value, timestamptz into a time)
//!   and serialises a struct;
//! - to_jsonb: PostgreSQL renders the row with its snake_case names; Rust parses it, renames the
//!   keys and serialises it again.

use serde::Serialize;
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

const ROWS: i32 = 10;
const ITERATIONS: usize = 400;

const SOURCE: &str = "
WITH c AS (
  SELECT 'claimed'::text AS outcome, g::bigint AS msg_id, gen_random_uuid() AS task_id,
         gen_random_uuid() AS step_id, 'step_' || g AS step_name, 'shop.handler' AS handler,
         'standard'::text AS step_type, 1 AS attempt, 3 AS max_attempts, 1 AS delivery,
         30000 AS timeout_ms, now() + interval '30 seconds' AS lease_expires_at,
         'shop'::text AS namespace, 'order'::text AS task_name, '1.0.0'::text AS task_version,
         gen_random_uuid()::text AS correlation_id, $2::text::jsonb AS context, '{}'::jsonb AS inputs,
         jsonb_build_object('parent', $2::text::jsonb -> 'items') AS dependency_results,
         ARRAY['next_a', 'next_b'] AS successors
  FROM generate_series(1, $1) g
)";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Claimed {
    msg_id: i64,
    task_id: String,
    step_id: String,
    step_name: String,
    handler: String,
    step_type: String,
    attempt: i32,
    max_attempts: i32,
    delivery: i32,
    timeout_ms: i32,
    lease_expires_at: String,
    namespace: String,
    task_name: String,
    task_version: String,
    correlation_id: String,
    context: serde_json::Value,
    inputs: serde_json::Value,
    dependency_results: serde_json::Value,
    successors: Vec<String>,
}

fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for ch in key.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

fn join(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

struct Measure {
    total: Duration,
    convert: Duration,
    bytes: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(connection);

    let items: Vec<serde_json::Value> = (0..12)
        .map(|i| serde_json::json!({"sku": format!("SKU-{i:05}"), "qty": i, "price": 19.99, "note": "a fairly ordinary line item"}))
        .collect();
    let context = serde_json::json!({"orderId": 7, "customer": {"id": 42, "name": "Ada", "tier": "gold"}, "items": items});
    let context_text = context.to_string();
    println!("row shape: claim_steps row, context {} bytes, {ROWS} rows per round trip, {ITERATIONS} round trips each", context_text.len());

    let passthrough = client
        .prepare(&format!(
            "{SOURCE} SELECT c.outcome, c.step_id::text, c.attempt, c.delivery, json_build_object(
              'msgId', c.msg_id, 'taskId', c.task_id, 'stepId', c.step_id, 'stepName', c.step_name,
              'handler', c.handler, 'stepType', c.step_type, 'attempt', c.attempt,
              'maxAttempts', c.max_attempts, 'delivery', c.delivery, 'timeoutMs', c.timeout_ms,
              'leaseExpiresAt', c.lease_expires_at, 'namespace', c.namespace, 'taskName', c.task_name,
              'taskVersion', c.task_version, 'correlationId', c.correlation_id, 'context', c.context,
              'inputs', c.inputs, 'dependencyResults', c.dependency_results,
              'successors', c.successors)::text FROM c"
        ))
        .await?;
    let typed = client
        .prepare(&format!(
            "{SOURCE} SELECT c.outcome, c.msg_id, c.task_id::text, c.step_id::text, c.step_name, c.handler,
              c.step_type, c.attempt, c.max_attempts, c.delivery, c.timeout_ms, c.lease_expires_at,
              c.namespace, c.task_name, c.task_version, c.correlation_id, c.context, c.inputs,
              c.dependency_results, c.successors FROM c"
        ))
        .await?;
    let to_jsonb = client
        .prepare(&format!(
            "{SOURCE} SELECT c.outcome, to_jsonb(c)::text FROM c"
        ))
        .await?;

    let mut results: Vec<(&str, Measure)> = Vec::new();
    for name in ["passthrough", "typed", "to_jsonb"] {
        let mut measure = Measure {
            total: Duration::ZERO,
            convert: Duration::ZERO,
            bytes: 0,
        };
        for round in 0..ITERATIONS + 20 {
            let started = Instant::now();
            let out = match name {
                "passthrough" => {
                    let rows = client.query(&passthrough, &[&ROWS, &context_text]).await?;
                    let convert = Instant::now();
                    let mut texts = Vec::with_capacity(rows.len());
                    for row in rows {
                        let _outcome: &str = row.try_get(0)?;
                        let _step: String = row.try_get(1)?;
                        let _attempt: i32 = row.try_get(2)?;
                        let _delivery: i32 = row.try_get(3)?;
                        texts.push(row.try_get::<_, String>(4)?);
                    }
                    let out = join(&texts);
                    (out, convert.elapsed())
                }
                "typed" => {
                    let rows = client.query(&typed, &[&ROWS, &context_text]).await?;
                    let convert = Instant::now();
                    let mut texts = Vec::with_capacity(rows.len());
                    for row in rows {
                        let lease: time::OffsetDateTime = row.try_get(11)?;
                        let step = Claimed {
                            msg_id: row.try_get(1)?,
                            task_id: row.try_get(2)?,
                            step_id: row.try_get(3)?,
                            step_name: row.try_get(4)?,
                            handler: row.try_get(5)?,
                            step_type: row.try_get(6)?,
                            attempt: row.try_get(7)?,
                            max_attempts: row.try_get(8)?,
                            delivery: row.try_get(9)?,
                            timeout_ms: row.try_get(10)?,
                            lease_expires_at: lease
                                .format(&time::format_description::well_known::Rfc3339)?,
                            namespace: row.try_get(12)?,
                            task_name: row.try_get(13)?,
                            task_version: row.try_get(14)?,
                            correlation_id: row.try_get(15)?,
                            context: row.try_get(16)?,
                            inputs: row.try_get(17)?,
                            dependency_results: row.try_get(18)?,
                            successors: row.try_get(19)?,
                        };
                        texts.push(serde_json::to_string(&step)?);
                    }
                    let out = join(&texts);
                    (out, convert.elapsed())
                }
                _ => {
                    let rows = client.query(&to_jsonb, &[&ROWS, &context_text]).await?;
                    let convert = Instant::now();
                    let mut texts = Vec::with_capacity(rows.len());
                    for row in rows {
                        let text: &str = row.try_get(1)?;
                        let value: serde_json::Map<String, serde_json::Value> =
                            serde_json::from_str(text)?;
                        let renamed: serde_json::Map<String, serde_json::Value> = value
                            .into_iter()
                            .filter(|(k, _)| k != "outcome")
                            .map(|(k, v)| (camel(&k), v))
                            .collect();
                        texts.push(serde_json::to_string(&renamed)?);
                    }
                    let out = join(&texts);
                    (out, convert.elapsed())
                }
            };
            if round >= 20 {
                measure.total += started.elapsed();
                measure.convert += out.1;
                measure.bytes = out.0.len();
            }
        }
        results.push((name, measure));
    }
    let per_row = |d: Duration| d.as_secs_f64() * 1e6 / (ITERATIONS as f64 * f64::from(ROWS));
    for (name, m) in &results {
        println!(
            "{name:>12}: round trip + conversion {:7.1} µs/row, conversion in Rust {:6.2} µs/row, {} bytes per {ROWS} steps",
            per_row(m.total),
            per_row(m.convert),
            m.bytes
        );
    }
    Ok(())
}
