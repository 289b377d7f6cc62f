/**
 * The health servers' own view of the database: one connection of their own (so a busy worker
 * pool cannot make the database look down, and a down database cannot hide behind a pooled
 * connection that still looks open), a bounded wait, and a short cache so probes arriving
 * together cost one round trip. Also the read-only queries of /health/detailed and /metrics:
 * queue depths (pgmq.metrics) and the steps in progress.
 */
import pg from 'pg';
import { redactText } from '../handler/redact.ts';
import type { DatabaseStatus, QueueDepth } from './health-types.ts';

export interface DatabaseProbeOptions {
  /** How long a probe may take before the database counts as unreachable. Default 2,000 ms. */
  timeoutMs?: number;
  /** How long one probe's answer is reused. Default 1,000 ms. */
  cacheMs?: number;
  /** Shown in pg_stat_activity. */
  applicationName: string;
}

export class DatabaseProbe {
  private readonly pool: pg.Pool;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private last: { at: number; status: DatabaseStatus } | undefined;
  private running: Promise<DatabaseStatus> | undefined;

  constructor(databaseUrl: string, options: DatabaseProbeOptions) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.cacheMs = options.cacheMs ?? 1_000;
    this.pool = new pg.Pool({
      connectionString: databaseUrl,
      max: 1,
      connectionTimeoutMillis: this.timeoutMs,
      query_timeout: this.timeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: options.applicationName,
    });
    // A connection the server cut (restart, pg_terminate_backend) is replaced at the next probe;
    // its error is what the probe reports, not a crash.
    this.pool.on('error', () => {});
  }

  /** Is the database answering? Cached for `cacheMs`; concurrent callers share one probe. */
  async check(): Promise<DatabaseStatus> {
    const last = this.last;
    if (last !== undefined && performance.now() - last.at < this.cacheMs) return last.status;
    this.running ??= this.probe().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Depth of each namespace's queue, from PGMQ's own pgmq.metrics; only `namespaces` when given
   * (a worker's own), else every registered namespace (an orchestrator).
   */
  async queueDepths(namespaces?: readonly string[]): Promise<QueueDepth[]> {
    const result = await this.query<{ namespace: string; queue: string; depth: string; visible: string; oldest: number | null }>(
      `SELECT n.name AS namespace, n.queue_name AS queue, m.queue_length AS depth,
              m.queue_visible_length AS visible, m.oldest_msg_age_sec AS oldest
         FROM tasker.namespaces n CROSS JOIN LATERAL pgmq.metrics(n.queue_name) m
        WHERE $1::text[] IS NULL OR n.name = ANY($1::text[])
        ORDER BY n.name`,
      [namespaces === undefined ? null : [...namespaces]],
    );
    return result.map((row) => ({
      namespace: row.namespace,
      queue: row.queue,
      depth: Number(row.depth),
      visible: Number(row.visible),
      oldestAgeSeconds: row.oldest ?? 0,
    }));
  }

  /** Steps in progress across the whole database (every worker's). */
  async inProgressSteps(): Promise<number> {
    const rows = await this.query<{ count: string }>(`SELECT count(*) AS count FROM tasker.workflow_steps WHERE state = 'in_progress'`, []);
    return Number(rows[0]?.count ?? 0);
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }

  private async probe(): Promise<DatabaseStatus> {
    const started = performance.now();
    let status: DatabaseStatus;
    try {
      const rows = await this.query<{ server_version: string }>(`SELECT current_setting('server_version') AS server_version`, []);
      const latencyMs = round(performance.now() - started);
      status = { reachable: true, latencyMs, serverVersion: rows[0]?.server_version ?? 'unknown' };
      // A database that is up but not migrated has no tasker.pgmq_version(): reachable all the same.
      const pgmq = await this.query<{ version: string | null }>('SELECT tasker.pgmq_version() AS version', []).catch(() => []);
      const version = pgmq[0]?.version;
      if (typeof version === 'string') status.pgmqVersion = version;
    } catch (error) {
      status = { reachable: false, latencyMs: round(performance.now() - started), error: describe(error) };
    }
    this.last = { at: performance.now(), status };
    return status;
  }

  /** One query, given up after `timeoutMs` even if the driver's own timeouts do not fire. */
  private async query<R extends object>(text: string, values: readonly unknown[]): Promise<R[]> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      const result = await Promise.race([this.pool.query<R>(text, [...values]), timeout]);
      return result.rows;
    } finally {
      clearTimeout(timer);
    }
  }
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  return redactText(code !== undefined && !text.includes(code) ? `${text} (${code})` : text);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
