/**
 * Fault test: a worker core loses its database mid-stream and must lose nothing. A PostgreSQL
 * server of its own (so stopping it disturbs no other test) gets 200 single-step tasks; a core
 * with a no-op handler loop works them; after ~50 completions the server is stopped (pg_ctl stop
 * -m fast: every connection cut, in-flight transactions rolled back) and started again 2 s later.
 * Every step must then complete exactly once, every report must settle (none rejected with an
 * error, none hanging), and every accepted report's step must be complete.
 *
 * Runs for each binding of TASKER_TEST_BINDINGS (default pg,napi,ffi), like binding.test.ts.
 */
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { WorkerCore } from '../../sdk/src/binding/types.ts';
import {
  createDatabase,
  runMigrations,
  startEmbeddedPostgres,
  stopEmbeddedPostgres,
  withDatabaseName,
} from '../../sdk/src/index.ts';
import { createTask, registerTemplate, type ReportResult } from '../../sdk/src/protocol/index.ts';
import { tempDir, type TempDir } from '../../sdk/test/support/temp-dir.ts';
import { single } from '../support/templates.ts';
import { bindingsUnderTest } from './bindings-under-test.ts';
import { bounded, sleep, success, taskStates, transitionsTo, waitFor } from './helpers.ts';

const NS = 'fault_ns';
const TASKS = 200;
const STOP_AFTER = 50;
const OUTAGE_MS = 2_000;

let dir: TempDir;
let stateDir: string;
let adminUrl: string;

beforeAll(async () => {
  dir = await tempDir('tasker-fault');
  // As root the server runs as `postgres`, which must traverse every parent; mkdtemp makes 0700.
  await chmod(dir.path, 0o755);
  stateDir = join(dir.path, 'pg');
  adminUrl = (await startEmbeddedPostgres({ stateDir })).url;
});

afterAll(async () => {
  if (dir === undefined) return;
  try {
    await bounded('stopping the fault-test server', stopEmbeddedPostgres({ stateDir }), 60_000);
  } catch (error) {
    // Never delete the data directory of a server that may still run.
    console.error(`[fault] could not stop the server in ${stateDir}; left in place: ${String(error)}`);
    return;
  }
  await dir.remove();
}, 90_000);

describe.each(bindingsUnderTest())('%s binding survives a database restart mid-stream', (bindingName) => {
  it(`completes ${TASKS} steps exactly once, losing no report`, { timeout: 120_000 }, async () => {
    const binding = await loadBinding(bindingName, { allowFallback: false });
    const database = `fault_${bindingName}`;
    await createDatabase(adminUrl, database);
    const databaseUrl = withDatabaseName(adminUrl, database);
    await runMigrations({ databaseUrl, mode: 'standard' });
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 });
    pool.on('error', () => {}); // the restart kills idle connections; the pool opens new ones
    let core: WorkerCore | undefined;
    try {
      await registerTemplate(pool, single(NS));
      for (let i = 0; i < TASKS; i += 25) {
        await Promise.all(Array.from({ length: 25 }, (_, j) => createTask(pool, { namespace: NS, name: 'single', context: { n: i + j } })));
      }
      core = await binding.createWorkerCore({ databaseUrl, workerId: `fault-${bindingName}`, namespaces: [NS], leaseSeconds: 10 });

      const handled = new Map<string, number>();
      const reports: Array<Promise<ReportResult>> = [];
      const results: Array<{ stepId: string; result: ReportResult }> = [];
      let settled = 0;
      const failures: unknown[] = [];
      let accepted = 0;
      let stopping = false;
      let outage = false;
      let reportedDuringOutage = 0;
      const worker = (async () => {
        while (!stopping) {
          const steps = await core!.next(4, 200);
          await sleep(steps.length === 0 ? 0 : 50); // the "work"
          for (const step of steps) {
            handled.set(step.stepId, (handled.get(step.stepId) ?? 0) + 1);
            if (outage) reportedDuringOutage += 1;
            // Not awaited: reports pile up in the core while the database is away.
            const report = core!.report(success(step));
            reports.push(report);
            report.then(
              (result) => {
                settled += 1;
                results.push({ stepId: step.stepId, result });
                if (result.accepted) accepted += 1;
              },
              (error: unknown) => {
                settled += 1;
                failures.push(error);
              },
            );
          }
        }
      })();

      await waitFor(`${STOP_AFTER} completions`, () => accepted >= STOP_AFTER, 30_000);
      outage = true;
      await bounded('stopping PostgreSQL', stopEmbeddedPostgres({ stateDir }), 60_000);
      const completedAtStop = accepted;
      await sleep(OUTAGE_MS);
      const restarted = await bounded('starting PostgreSQL again', startEmbeddedPostgres({ stateDir }), 60_000);
      outage = false;
      expect(restarted.url).toBe(adminUrl); // same port: the core's URL is still right
      expect(completedAtStop).toBeLessThan(TASKS); // the outage hit mid-stream

      const complete = async (): Promise<number> =>
        (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM tasker.tasks WHERE state = 'complete'")).rows[0]!.n;
      const state = async (): Promise<string> =>
        `tasks ${JSON.stringify(await taskStates(pool).catch(() => ({})))}, ${settled}/${reports.length} reports settled, ` +
        `stats ${JSON.stringify(core!.stats())}`;
      try {
        await waitFor(`all ${TASKS} tasks to complete after the restart`, async () => (await complete().catch(() => 0)) === TASKS, 60_000);
      } catch (error) {
        throw new Error(`${(error as Error).message}: ${await state()}`, { cause: error });
      }
      stopping = true;
      await bounded('the handler loop to end', worker, 10_000);
      await bounded(`every report to settle (${await state()})`, Promise.allSettled(reports), 15_000);

      expect(failures).toEqual([]);
      expect(results).toHaveLength(reports.length);
      const completions = await transitionsTo(pool, 'complete');
      expect(completions.size).toBe(TASKS);
      expect([...completions.values()].every((n) => n === 1)).toBe(true);
      for (const { stepId, result } of results) {
        // A report whose first commit's answer was lost comes back rejected as "step is complete".
        if (!result.accepted) expect(result.reason).toBe('step is complete');
        expect(completions.get(stepId)).toBe(1);
      }
      const stats = core.stats();
      expect(stats.reconnects).toBeGreaterThanOrEqual(1);
      expect(stats.inFlight).toBe(0);
      const redelivered = [...handled.values()].filter((n) => n > 1).length;
      console.log(
        `[fault ${bindingName}] ${completedAtStop} completed when the server stopped; ` +
          `${reportedDuringOutage} report(s) made during the outage; ` +
          `${stats.reconnects} reconnect(s), ${stats.reportRetries} report retries, ` +
          `${stats.rejected} report(s) rejected after a lost answer, ${redelivered} step(s) handed out twice`,
      );
      const drained = core.drain(5_000);
      core = undefined;
      expect(await bounded('drain', drained, 15_000)).toEqual({ abandoned: 0, released: 0 });
    } finally {
      if (core !== undefined) await bounded('drain after a failure', core.drain(2_000), 15_000).catch(() => {});
      await pool.end().catch(() => {});
    }
  });
});
