/**
 * Observations: facts beyond the tasks' states that some scenarios put in their trace — what is
 * left in and archived from the queue, every report the workers sent with what the database made
 * of it, and how the scenario's worker processes ended.
 */
import { quoteIdentifier, type JsonObject, type JsonValue } from '@tasker/sdk';
import type pg from 'pg';
import type { Observation } from '../scenario.ts';
import type { CreatedTasks } from './trace.ts';
import type { WorkerProcess } from './worker-process.ts';

/** The workers whose reports count for a scenario: the cell's main worker (if it serves it) and the scenario's own. */
export interface ScenarioWorkers {
  namespace: string;
  /** Role → process. */
  processes: Map<string, WorkerProcess>;
}

/** Reads the observations a scenario asked for. */
export async function observe(
  what: readonly Observation[],
  pool: pg.Pool,
  tasks: CreatedTasks,
  workers: ScenarioWorkers,
): Promise<JsonObject> {
  const observations: JsonObject = {};
  for (const kind of what) {
    if (kind === 'queue') observations['queue'] = await queueObservation(pool, workers.namespace);
    if (kind === 'reports') observations['reports'] = reportObservation(tasks, workers);
    if (kind === 'workerExits') {
      const exits: JsonObject = {};
      for (const [role, proc] of workers.processes) if (role !== 'main') exits[role] = proc.exit ?? 'running';
      observations['workerExits'] = exits;
    }
  }
  return observations;
}

async function queueObservation(pool: pg.Pool, namespace: string): Promise<JsonValue> {
  // The namespace passed tasker's name rule when its template was registered; quoted all the same.
  const queue = `worker_${namespace}_queue`;
  const left = await pool.query<{ count: string }>(`SELECT count(*)::text AS count FROM pgmq.${quoteIdentifier(`q_${queue}`)}`);
  const archived = await pool.query<{ message: JsonValue }>(
    `SELECT message FROM pgmq.${quoteIdentifier(`a_${queue}`)} ORDER BY msg_id`,
  );
  return { left: Number(left.rows[0]?.count ?? -1), archived: archived.rows.map((row) => row.message) };
}

function reportObservation(tasks: CreatedTasks, workers: ScenarioWorkers): JsonValue {
  const labels = new Map<string, string>();
  for (const [label, ids] of tasks) ids.forEach((id, index) => labels.set(id, ids.length === 1 ? label : `${label}#${index + 1}`));
  const rows: JsonObject[] = [];
  for (const [role, proc] of workers.processes) {
    for (const report of proc.reports) {
      const task = labels.get(report.taskId);
      if (report.namespace !== workers.namespace || task === undefined) continue;
      rows.push({
        task,
        step: report.stepName,
        attempt: report.attempt,
        delivery: report.delivery,
        worker: role,
        outcome: report.outcome,
        kind: report.kind,
        accepted: report.accepted,
        reason: report.reason,
      });
    }
  }
  const key = (row: JsonObject): string =>
    [row['task'], row['step'], String(row['attempt']).padStart(4, '0'), String(row['delivery']).padStart(4, '0'), row['worker']].join('|');
  return rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/**
 * Waits until every report the database accepted from these workers has also reached the
 * runner as an event (the event is sent after the commit, so it can trail the task's end).
 * Throws when they still disagree after `timeoutMs`: a worker reported something it did not say.
 */
export async function settleReports(pool: pg.Pool, tasks: CreatedTasks, workers: ScenarioWorkers, timeoutMs = 10_000): Promise<void> {
  const ids = [...tasks.values()].flat();
  const byWorker = new Map<string, WorkerProcess>();
  for (const proc of workers.processes.values()) if (proc.started !== undefined) byWorker.set(proc.workerId, proc);
  if (byWorker.size === 0 || ids.length === 0) return;
  const { rows } = await pool.query<{ actor: string; count: string }>(
    `SELECT st.actor, count(*)::text AS count
       FROM tasker.workflow_steps s JOIN tasker.step_transitions st ON st.step_id = s.step_id
     WHERE s.task_id = ANY($1::uuid[]) AND st.from_state = 'in_progress' AND st.to_state <> 'in_progress'
       AND st.actor = ANY($2::text[])
     GROUP BY st.actor`,
    [ids, [...byWorker.keys()]],
  );
  const idSet = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  for (const row of rows) {
    const proc = byWorker.get(row.actor);
    if (proc === undefined) continue;
    const expected = Number(row.count);
    const accepted = (): number => proc.reports.filter((r) => r.accepted === true && idSet.has(r.taskId)).length;
    await proc.until(() => accepted() >= expected, `events for the ${expected} reports the database accepted from it`, deadline);
  }
}
