/**
 * The fault scenario: a worker core loses its database mid-stream and must lose nothing. A
 * private server (fault-server.ts) gets 200 single-step tasks; a core with a no-op handler loop
 * works them; after ~50 completions the server is stopped (pg_ctl stop -m fast: every connection
 * cut, in-flight transactions rolled back) and started again 2 s later. Every step must then
 * complete exactly once, every report must settle (none rejected with an error, none hanging),
 * and every accepted report's step must be complete.
 *
 * Runtime-neutral (node:assert, no test framework), like cases.ts: vitest on Node
 * (fault.test.ts), bun test (test/runtimes/bun/fault.bun.ts) and deno test
 * (test/runtimes/deno/fault_test.ts) run this one implementation in every binding.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import type { BindingModule, WorkerCore } from '../../sdk/src/binding/types.ts';
import { createDatabase, runMigrations, withDatabaseName } from '../../sdk/src/index.ts';
import { createTask, registerTemplate, type ReportResult } from '../../sdk/src/protocol/index.ts';
import { single } from '../support/templates.ts';
import type { BindingCaseContext } from './case.ts';
import type { FaultServer } from './fault-server.ts';
import { bounded, sleep, success, taskStates, transitionsTo, waitFor } from './helpers.ts';

const NS = 'fault_ns';
const TASKS = 200;
const STOP_AFTER = 50;
const OUTAGE_MS = 2_000;

/** Bound for one run of the scenario, the same for every runner. */
export const FAULT_SCENARIO_TIMEOUT_MS = 120_000;

/** What happened during a run that passed, for the runner's log. */
export interface FaultOutcome {
  /** Reports accepted when the server was stopped. */
  completedAtStop: number;
  /** Reports made while the server was down. */
  reportedDuringOutage: number;
  reconnects: number;
  reportRetries: number;
  /** Reports rejected as "step is complete" because their first commit's answer was lost. */
  rejected: number;
  /** Steps handed out more than once (their lease expired while the server was down). */
  redelivered: number;
}

/** One line describing an outcome. */
export function describeFaultOutcome(bindingName: string, runtime: BindingCaseContext['runtime'], outcome: FaultOutcome): string {
  return (
    `[fault ${bindingName} on ${runtime}] ${outcome.completedAtStop} completed when the server stopped; ` +
    `${outcome.reportedDuringOutage} report(s) made during the outage; ` +
    `${outcome.reconnects} reconnect(s), ${outcome.reportRetries} report retries, ` +
    `${outcome.rejected} report(s) rejected after a lost answer, ${outcome.redelivered} step(s) handed out twice`
  );
}

/**
 * Runs the scenario for `binding` on `server`, in a database of its own (`fault_<binding>`).
 * Throws (node:assert) on any loss, duplicate or hang; restarts the server it stopped.
 */
export async function runFaultScenario(binding: BindingModule, server: FaultServer): Promise<FaultOutcome> {
  const database = `fault_${binding.name}`;
  await createDatabase(server.adminUrl, database);
  const databaseUrl = withDatabaseName(server.adminUrl, database);
  await runMigrations({ databaseUrl, mode: 'standard' });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 });
  pool.on('error', () => {}); // the restart kills idle connections; the pool opens new ones
  let core: WorkerCore | undefined;
  try {
    await registerTemplate(pool, single(NS));
    for (let i = 0; i < TASKS; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, j) => createTask(pool, { namespace: NS, name: 'single', context: { n: i + j } })));
    }
    core = await binding.createWorkerCore({ databaseUrl, workerId: `fault-${binding.name}`, namespaces: [NS], leaseSeconds: 10 });
    const running = core;

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
        const steps = await running.next(4, 200);
        await sleep(steps.length === 0 ? 0 : 50); // the "work"
        for (const step of steps) {
          handled.set(step.stepId, (handled.get(step.stepId) ?? 0) + 1);
          if (outage) reportedDuringOutage += 1;
          // Not awaited: reports pile up in the core while the database is away.
          const report = running.report(success(step));
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
    // Awaited below (bounded); until then a failing next() must not be an unhandled rejection,
    // which bun and deno turn into a failure of the whole run rather than of this test.
    worker.catch(() => {});

    await waitFor(`${STOP_AFTER} completions`, () => accepted >= STOP_AFTER, 30_000);
    outage = true;
    await server.stop();
    const completedAtStop = accepted;
    await sleep(OUTAGE_MS);
    await server.restart();
    outage = false;
    assert.ok(completedAtStop < TASKS, `the outage hit mid-stream (${completedAtStop} of ${TASKS} already complete)`);
    // Without reports made while the server was away, the run would not exercise what it exists
    // for: reports held and retried across a restart.
    assert.ok(reportedDuringOutage >= 1, `reports were made during the outage (${reportedDuringOutage})`);

    const complete = async (): Promise<number> =>
      (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM tasker.tasks WHERE state = 'complete'")).rows[0]!.n;
    const state = async (): Promise<string> =>
      `tasks ${JSON.stringify(await taskStates(pool).catch(() => ({})))}, ${settled}/${reports.length} reports settled, ` +
      `stats ${JSON.stringify(running.stats())}`;
    try {
      await waitFor(`all ${TASKS} tasks to complete after the restart`, async () => (await complete().catch(() => 0)) === TASKS, 60_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}: ${await state()}`, { cause: error });
    }
    stopping = true;
    await bounded('the handler loop to end', worker, 10_000);
    await bounded(`every report to settle (${await state()})`, Promise.allSettled(reports), 15_000);

    assert.deepEqual(failures, [], 'no report was rejected with an error');
    assert.equal(results.length, reports.length, 'every report resolved');
    const completions = await transitionsTo(pool, 'complete');
    assert.equal(completions.size, TASKS, 'every step completed');
    const twice = [...completions].filter(([, n]) => n !== 1);
    assert.deepEqual(twice, [], 'every step completed exactly once');
    for (const { stepId, result } of results) {
      // A report whose first commit's answer was lost comes back rejected as "step is complete".
      if (!result.accepted) assert.equal(result.reason, 'step is complete', `report of ${stepId} rejected`);
      assert.equal(completions.get(stepId), 1, `step ${stepId} of an accepted report is complete`);
    }
    const stats = running.stats();
    assert.ok(stats.reconnects >= 1, `the core counted its reconnect (stats ${JSON.stringify(stats)})`);
    assert.equal(stats.inFlight, 0, 'nothing left in flight');
    const outcome: FaultOutcome = {
      completedAtStop,
      reportedDuringOutage,
      reconnects: stats.reconnects,
      reportRetries: stats.reportRetries,
      rejected: stats.rejected,
      redelivered: [...handled.values()].filter((n) => n > 1).length,
    };
    core = undefined;
    assert.deepEqual(await bounded('drain', running.drain(5_000), 15_000), { abandoned: 0, released: 0 });
    return outcome;
  } finally {
    if (core !== undefined) await bounded('drain after a failure', core.drain(2_000), 15_000).catch(() => {});
    await pool.end().catch(() => {});
  }
}
