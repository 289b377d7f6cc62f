/**
 * The mixed fleet: one Node, one Bun and one Deno worker (each on a different binding) serve
 * the same namespace at the same time. Every task must complete with every step completed
 * exactly once and in dependency order, and each runtime must have taken part: its worker id
 * (which the SDK starts with the runtime's name) is the claimer of some steps.
 */
import { Orchestrator, TaskerClient, checkTemplate, registerTemplate } from '@tasker/sdk';
import pg from 'pg';
import { MIXED_FLEET } from '../scenarios/mixed-fleet.ts';
import { cell, type Cell } from './cells.ts';
import type { SharedServer } from './server.ts';
import { readTrace } from './trace.ts';
import { startWorkerProcess, type WorkerProcess } from './worker-process.ts';

/** The fleet: every runtime, and every binding once. */
export const FLEET_CELLS: readonly Cell[] = [cell('node', 'napi'), cell('bun', 'ffi'), cell('deno', 'pg')];

export interface FleetResult {
  passed: boolean;
  timeMs: number;
  /** The fleet's cells, `runtime/binding`. */
  workers: string[];
  /** Steps whose final claim was by each runtime's worker. */
  stepsByRuntime: Record<string, number>;
  problems: string[];
}

export async function runMixedFleet(server: SharedServer, logDir: string): Promise<FleetResult> {
  const started = performance.now();
  const problems: string[] = [];
  const stepsByRuntime: Record<string, number> = {};
  const database = await server.createDatabase('mixed_fleet');
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  pool.on('error', () => {});
  const orchestrator = new Orchestrator({ databaseUrl: database.url, sweepIntervalMs: 500, handleSignals: false, logWriter: () => {} });
  const client = new TaskerClient({ databaseUrl: database.url, poolSize: 8, actor: 'conformance-runner' });
  const workers: WorkerProcess[] = [];
  try {
    await orchestrator.start();
    await registerTemplate(pool, checkTemplate(MIXED_FLEET.template, 'the mixed fleet'));
    // All three are running before the first task exists, so none can take everything.
    const starting = await Promise.allSettled(
      FLEET_CELLS.map((fleetCell) =>
        startWorkerProcess({
          cell: fleetCell,
          role: 'fleet',
          spec: { namespaces: [MIXED_FLEET.template.namespace], ...MIXED_FLEET.worker },
          databaseUrl: database.url,
          logDir,
        }),
      ),
    );
    for (const outcome of starting) if (outcome.status === 'fulfilled') workers.push(outcome.value);
    const failed = starting.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const ids: string[] = [];
    for (let i = 0; i < MIXED_FLEET.tasks; i += 1) {
      ids.push((await client.createTask({ namespace: MIXED_FLEET.template.namespace, name: MIXED_FLEET.template.name })).taskId);
    }
    const deadline = Date.now() + 60_000;
    for (const id of ids) await client.waitForTask(id, { timeoutMs: Math.max(1, deadline - Date.now()) });

    const trace = await readTrace(pool, new Map([['fleet', ids]]));
    const group = trace.tasks['fleet'];
    if (group === undefined || 'variants' in group) problems.push(`the tasks did not all end alike: ${JSON.stringify(group).slice(0, 400)}`);
    else {
      if (group.state !== 'complete') problems.push(`the tasks ended ${group.state}, not complete`);
      for (const [name, step] of Object.entries(group.steps)) {
        if (step.completions !== 1) problems.push(`step ${name} completed ${step.completions} times`);
      }
    }
    problems.push(...trace.ordering);

    const { rows } = await pool.query<{ claimed_by: string | null; count: string }>(
      `SELECT claimed_by, count(*)::text AS count FROM tasker.workflow_steps WHERE task_id = ANY($1::uuid[]) GROUP BY claimed_by`,
      [ids],
    );
    for (const worker of workers) {
      const runtime = worker.cell.runtime;
      if (!worker.workerId.startsWith(`${runtime}-`)) problems.push(`the ${worker.cell.id} worker's id ${worker.workerId} does not start with "${runtime}-"`);
      stepsByRuntime[runtime] = Number(rows.find((row) => row.claimed_by === worker.workerId)?.count ?? 0);
      if (stepsByRuntime[runtime] === 0) problems.push(`the ${worker.cell.id} worker claimed no step: it did not take part`);
    }
    const strangers = rows.filter((row) => !workers.some((w) => w.workerId === row.claimed_by));
    if (strangers.length > 0) problems.push(`steps claimed by no fleet worker: ${JSON.stringify(strangers)}`);
    // The transition log names the same actors: every claim was made by a worker named for its runtime.
    const actors = await pool.query<{ actor: string }>(
      `SELECT DISTINCT st.actor FROM tasker.workflow_steps s JOIN tasker.step_transitions st ON st.step_id = s.step_id
       WHERE s.task_id = ANY($1::uuid[]) AND st.to_state = 'in_progress'`,
      [ids],
    );
    for (const { actor } of actors.rows) {
      if (!workers.some((w) => w.workerId === actor && actor.startsWith(`${w.cell.runtime}-`))) {
        problems.push(`a claim was recorded for ${actor}, which is not a fleet worker named for its runtime`);
      }
    }
    for (const worker of workers) {
      if (!actors.rows.some((row) => row.actor === worker.workerId)) problems.push(`no transition names the ${worker.cell.id} worker`);
    }
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    for (const worker of workers) {
      const exit = await worker.stop();
      if (exit !== 0) problems.push(`the ${worker.cell.id} worker ended with ${String(exit)}, not a clean drain; see ${worker.logFile}`);
    }
    await client.close();
    await orchestrator.stop();
    await pool.end();
    await database.drop();
  }
  return {
    passed: problems.length === 0,
    timeMs: Math.round(performance.now() - started),
    workers: FLEET_CELLS.map((c) => c.id),
    stepsByRuntime,
    problems,
  };
}
