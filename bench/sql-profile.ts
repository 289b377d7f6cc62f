/**
 * Where the time of one step goes inside PostgreSQL (issue 4's latency targets): runs the SQL of
 * a 4-step linear workflow one call at a time — create_task, claim_steps for the first step, then
 * report_and_claim for each step (which claims the next) — from one session, and prints
 *   - each call's p50 as the client sees it (round trip, planning of the top-level statement,
 *     commit), and
 *   - per PL/pgSQL function, calls and mean total/self time from pg_stat_user_functions
 *     (track_functions = 'pl'; self excludes nested PL/pgSQL functions, includes plain SQL and
 *     planning);
 * then, in a second database, `--rounds` rounds of 10 single-step tasks claimed with one
 * claim_steps and reported with one report_steps (a busy worker's batches), and prints their p50
 * and the WAL they wrote per task created and per step claimed and reported, then one claim,
 * heartbeat and report of 1,000 steps and a release of 1,000 leases;
 * then, in a third, a burst of `--backlog` single-step tasks drained 50 at a time (claim_steps,
 * report_steps) from one session, in steps/s: first under statistics taken while every task was
 * complete (a deployment that was idle), then another burst analyzed before its drain
 * (migration 0016).
 *
 *   node bench/dist/sql-profile.js [--workflows 200] [--rounds 40] [--backlog 2000]
 *
 * PostgreSQL: DATABASE_URL, else the embedded server; a throwaway database is created and dropped.
 */
import { parseArgs } from 'node:util';
import { createDatabase, dropDatabase, resolveDatabase, runMigrations, withDatabaseName } from '@tasker/sdk';
import pg from 'pg';
import {
  claimSingleSteps,
  createTasksInBulk,
  emptyWorkflowTimes,
  extendLeases,
  leaseArrays,
  registerLinearTemplate,
  registerSingleStepTemplate,
  reportSuccesses,
  runLinearWorkflow,
  withMigratedDatabase,
  type Lease,
} from './sql-workloads.ts';
import { p50 } from './stats.ts';

const { values } = parseArgs({
  options: {
    workflows: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '40' },
    backlog: { type: 'string', default: '2000' },
  },
});
const workflows = Number(values.workflows);
const rounds = Number(values.rounds);
const backlog = Number(values.backlog);
const BATCH = 10;
const LARGE = 1000;

interface FunctionRow {
  function: string;
  calls: string;
  total_ms: string;
  self_ms: string;
}

async function main(): Promise<void> {
  const server = await resolveDatabase();
  const name = `tasker_sql_profile_${process.pid}`;
  await createDatabase(server.url, name);
  const url = withDatabaseName(server.url, name);
  try {
    await runMigrations({ databaseUrl: url, log: () => {} });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await registerLinearTemplate(client);
    await client.query("SET track_functions = 'pl'");
    const times = emptyWorkflowTimes();
    for (let i = 0; i < workflows; i += 1) await runLinearWorkflow(client, times);
    await client.end();
    // Function statistics reach the shared counters when the session ends.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    const { rows } = await reader.query<FunctionRow>(
      `SELECT schemaname || '.' || funcname AS function, calls,
              round((total_time / calls)::numeric, 3) AS total_ms, round((self_time / calls)::numeric, 3) AS self_ms
       FROM pg_stat_user_functions ORDER BY self_time DESC`,
    );
    await reader.end();
    const result = {
      workflows,
      client_p50_ms: {
        create_task: p50(times.create_task),
        claim_steps: p50(times.claim_steps),
        report_and_claim: p50(times.report_and_claim),
        workflow_sql_only: p50(times.workflow),
      },
      functions_mean_ms: Object.fromEntries(
        rows.map((row) => [row.function, { calls: Number(row.calls), total: Number(row.total_ms), self: Number(row.self_ms) }]),
      ),
    };
    console.log(JSON.stringify({ ...result, batches_of_10: await batches(server.url), burst: await burst(server.url) }));
  } finally {
    await dropDatabase(server.url, name).catch(() => {});
  }
}

/**
 * Runs `work` with a session on a fresh, migrated database `tasker_sql_profile_<label>_<pid>`
 * holding the single-step template sql_profile/single; drops the database afterwards.
 */
async function withSingleStepDatabase<T>(serverUrl: string, label: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withMigratedDatabase(serverUrl, `tasker_sql_profile_${label}_${process.pid}`, async (client) => {
    await registerSingleStepTemplate(client);
    return work(client);
  });
}

/**
 * p50 of claim_steps and report_steps for batches of 10 single-step tasks, in a fresh database;
 * and the WAL each round wrote (pg_current_wal_insert_lsn before and after, per task created and
 * per step claimed and reported; p50 over rounds, so a round that pays a checkpoint's full-page
 * images does not set the figure). WAL is the server's: run it on an otherwise idle server. Then
 * one claim, heartbeat (extend_leases) and report of 1,000 steps, and a release of 1,000 leases.
 */
async function batches(
  serverUrl: string,
): Promise<{
  rounds: number;
  claim_p50_ms: number;
  report_p50_ms: number;
  wal_bytes_per_task_created: number;
  wal_bytes_per_step_claimed_and_reported: number;
  batch_of_1000_claim_us_per_step: number;
  batch_of_1000_report_us_per_step: number;
  batch_of_1000_extend_leases_ms: number;
  batch_of_1000_release_leases_ms: number;
}> {
  return withSingleStepDatabase(serverUrl, 'batch', async (client) => {
    const claims: number[] = [];
    const reports: number[] = [];
    const createWal: number[] = [];
    const stepWal: number[] = [];
    const lsn = async (): Promise<string> => (await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
    const walSince = async (from: string): Promise<number> =>
      Number((await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint AS bytes', [from])).rows[0]!.bytes);
    for (let round = 0; round < rounds; round += 1) {
      let from = await lsn();
      for (let i = 0; i < BATCH; i += 1) {
        await client.query("SELECT * FROM tasker.create_task('sql_profile', 'single', NULL, '{}'::jsonb)");
      }
      createWal.push((await walSince(from)) / BATCH);
      from = await lsn();
      let t0 = performance.now();
      const rows = await claimSingleSteps(client, BATCH);
      claims.push(performance.now() - t0);
      t0 = performance.now();
      await reportSuccesses(client, rows);
      reports.push(performance.now() - t0);
      stepWal.push((await walSince(from)) / rows.length);
    }
    // One batch of the largest size a claim or report takes (1,000): what a step costs there
    // shows whether any statement grows faster than the batch (0018).
    await createTasksInBulk(client, LARGE);
    let t0 = performance.now();
    const rows = await claimSingleSteps(client, LARGE);
    const largeClaim = performance.now() - t0;
    if (rows.length !== LARGE) throw new Error(`claimed ${rows.length} of ${LARGE} steps`);
    t0 = performance.now();
    await extendLeases(client, rows);
    const largeExtend = performance.now() - t0;
    t0 = performance.now();
    await reportSuccesses(client, rows);
    const largeReport = performance.now() - t0;
    // And a drain's release of as many prefetched leases.
    await createTasksInBulk(client, LARGE);
    const prefetched = await claimSingleSteps(client, LARGE);
    t0 = performance.now();
    const released = await client.query<{ released: boolean }>(
      "SELECT * FROM tasker.release_leases($1::uuid[], $2::int[], $3::int[], 'w')",
      leaseArrays(prefetched),
    );
    const largeRelease = performance.now() - t0;
    if (released.rows.filter((row) => row.released).length !== LARGE) throw new Error('a lease was not released');
    return {
      rounds,
      claim_p50_ms: p50(claims),
      report_p50_ms: p50(reports),
      wal_bytes_per_task_created: Math.round(p50(createWal)),
      wal_bytes_per_step_claimed_and_reported: Math.round(p50(stepWal)),
      batch_of_1000_claim_us_per_step: Math.round((largeClaim * 1000) / LARGE),
      batch_of_1000_report_us_per_step: Math.round((largeReport * 1000) / LARGE),
      batch_of_1000_extend_leases_ms: Math.round(largeExtend),
      batch_of_1000_release_leases_ms: Math.round(largeRelease),
    };
  });
}

/**
 * Creates `count` single-step tasks in one statement (then ANALYZE, if `analyze`), then drains them
 * 50 at a time; steps/s of the drain.
 */
async function drain(client: pg.Client, count: number, analyze: boolean): Promise<number> {
  await createTasksInBulk(client, count);
  if (analyze) await client.query('ANALYZE');
  const started = performance.now();
  let steps = 0;
  for (;;) {
    const rows = await claimSingleSteps(client, 50);
    if (rows.length === 0) break;
    await reportSuccesses(client, rows);
    steps += rows.length;
  }
  if (steps !== count) throw new Error(`drained ${steps} of ${count} steps`);
  return Math.round(steps / ((performance.now() - started) / 1000));
}

/**
 * A burst after an idle spell: statistics taken with every task complete, then `backlog` tasks
 * drained (steps/s); then another burst, analyzed before its drain. Autovacuum is off for the
 * tables meanwhile, so the first drain runs on the idle statistics throughout.
 */
async function burst(serverUrl: string): Promise<{ backlog: number; idle_statistics_steps_per_s: number; fresh_statistics_steps_per_s: number }> {
  return withSingleStepDatabase(serverUrl, 'burst', async (client) => {
    for (const table of ['tasks', 'workflow_steps', 'step_transitions', 'task_transitions']) {
      await client.query(`ALTER TABLE tasker.${table} SET (autovacuum_enabled = false)`);
    }
    await drain(client, 20, false);
    // What autovacuum leaves after an idle spell: the queue's emptied pages vacuumed away, and
    // statistics that say every task is complete.
    await client.query('VACUUM ANALYZE');
    const idle = await drain(client, backlog, false);
    const fresh = await drain(client, backlog, true);
    return { backlog, idle_statistics_steps_per_s: idle, fresh_statistics_steps_per_s: fresh };
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
