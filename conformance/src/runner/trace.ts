/**
 * The normalised trace of one scenario in one cell, read from the database after the scenario
 * ended: each task's final state and state path, and for each step its state, attempt,
 * deliveries, how often it completed, its state path (to_state attempt/delivery), its result and
 * its error (kind, message, final reason, details). Nothing that legitimately differs between
 * runs is in it: no ids, times, worker ids or stacks. Results over 4 KiB are replaced by their
 * size and sha256. Identical tasks of a group are folded into one entry with a copy count.
 */
import type { JsonObject, JsonValue } from '@tasker/sdk';
import type pg from 'pg';
import { canonicalJson } from '../canonical-json.ts';
import { recordedResult } from '../recorded-result.ts';
import { orderingViolations, type EdgeRow, type StepTransitionRow, type TaskFinishRow } from './ordering.ts';

export type StepTrace = {
  state: string;
  attempt: number;
  deliveries: number;
  /** Transitions to complete: a step completes at most once. */
  completions: number;
  path: string[];
  result: JsonValue;
  error: JsonValue;
};

export type TaskTrace = { state: string; path: string[]; steps: { [name: string]: StepTrace } };

/** A group of tasks: one trace with its copy count when they all agree, else every variant. */
export type TaskGroupTrace = (TaskTrace & { copies: number }) | { variants: Array<TaskTrace & { copies: number }> };

export type ScenarioTrace = {
  tasks: { [label: string]: TaskGroupTrace };
  /** Broken ordering constraints (a step started before a dependency finished...); empty when all hold. */
  ordering: string[];
  observations: JsonObject;
};

/** The task ids of a scenario, by label, in creation order. */
export type CreatedTasks = Map<string, string[]>;

interface TaskRow {
  task_id: string;
  state: string;
  path: string[];
}

interface StepRow {
  task_id: string;
  name: string;
  state: string;
  attempt: number;
  deliveries: number;
  results: JsonValue;
  last_error: JsonObject | null;
}

function normaliseError(error: JsonObject | null): JsonValue {
  if (error === null) return null;
  const kept: JsonObject = {};
  for (const key of ['kind', 'message', 'final_reason', 'details'] as const) {
    const value = error[key];
    if (value !== undefined) kept[key] = value;
  }
  return kept;
}

/** Reads the trace of the given tasks (observations are added by the caller). */
export async function readTrace(pool: pg.Pool, tasks: CreatedTasks): Promise<ScenarioTrace> {
  const ids = [...tasks.values()].flat();
  const [taskRows, stepRows, transitionRows, edgeRows, finishRows] = await Promise.all([
    pool.query<TaskRow>(
      `SELECT t.task_id::text, t.state,
              coalesce((SELECT json_agg(tt.to_state ORDER BY tt.created_at, tt.transition_id)
                        FROM tasker.task_transitions tt WHERE tt.task_id = t.task_id), '[]') AS path
       FROM tasker.tasks t WHERE t.task_id = ANY($1::uuid[])`,
      [ids],
    ),
    pool.query<StepRow>(
      `SELECT s.task_id::text, s.name, s.state, s.attempt, s.deliveries, s.results, s.last_error
       FROM tasker.workflow_steps s WHERE s.task_id = ANY($1::uuid[])`,
      [ids],
    ),
    pool.query<StepTransitionRow>(
      `SELECT st.task_id::text, s.name AS step, st.to_state, st.attempt, st.delivery,
              (extract(epoch FROM st.created_at) * 1000000)::bigint::text AS at_us
       FROM tasker.step_transitions st JOIN tasker.workflow_steps s ON s.step_id = st.step_id
       WHERE s.task_id = ANY($1::uuid[])
       ORDER BY st.created_at, st.transition_id`,
      [ids],
    ),
    pool.query<EdgeRow>(
      `SELECT e.task_id::text, f.name AS from_step, t.name AS to_step
       FROM tasker.workflow_step_edges e
       JOIN tasker.workflow_steps f ON f.step_id = e.from_step_id
       JOIN tasker.workflow_steps t ON t.step_id = e.to_step_id
       WHERE e.task_id = ANY($1::uuid[])`,
      [ids],
    ),
    pool.query<TaskFinishRow>(
      `SELECT tt.task_id::text, tt.to_state, (extract(epoch FROM tt.created_at) * 1000000)::bigint::text AS at_us
       FROM tasker.task_transitions tt
       WHERE tt.task_id = ANY($1::uuid[]) AND tt.to_state IN ('complete', 'error', 'cancelled')`,
      [ids],
    ),
  ]);

  const byTask = new Map<string, TaskTrace>();
  for (const row of taskRows.rows) byTask.set(row.task_id, { state: row.state, path: row.path, steps: {} });
  const pathOf = new Map<string, string[]>();
  const completionsOf = new Map<string, number>();
  for (const row of transitionRows.rows) {
    const key = `${row.task_id}/${row.step}`;
    pathOf.set(key, [...(pathOf.get(key) ?? []), `${row.to_state} ${row.attempt}/${row.delivery}`]);
    if (row.to_state === 'complete') completionsOf.set(key, (completionsOf.get(key) ?? 0) + 1);
  }
  const sortedSteps = [...stepRows.rows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const row of sortedSteps) {
    const task = byTask.get(row.task_id);
    if (task === undefined) continue;
    const key = `${row.task_id}/${row.name}`;
    task.steps[row.name] = {
      state: row.state,
      attempt: row.attempt,
      deliveries: row.deliveries,
      completions: completionsOf.get(key) ?? 0,
      path: pathOf.get(key) ?? [],
      result: recordedResult(row.results),
      error: normaliseError(row.last_error),
    };
  }

  const traces: ScenarioTrace['tasks'] = {};
  const labels = new Map<string, string>();
  for (const [label, taskIds] of tasks) {
    taskIds.forEach((id, index) => labels.set(id, taskIds.length === 1 ? label : `${label}#${index + 1}`));
    traces[label] = group(taskIds.map((id) => byTask.get(id) ?? { state: 'missing', path: [], steps: {} }));
  }
  return {
    tasks: traces,
    ordering: orderingViolations(labels, transitionRows.rows, edgeRows.rows, finishRows.rows),
    observations: {},
  };
}

/** Folds identical task traces into one with a copy count; keeps every variant otherwise. */
function group(traces: TaskTrace[]): TaskGroupTrace {
  const variants = new Map<string, TaskTrace & { copies: number }>();
  for (const trace of traces) {
    const key = canonicalJson(trace);
    const seen = variants.get(key);
    if (seen === undefined) variants.set(key, { ...trace, copies: 1 });
    else seen.copies += 1;
  }
  const all = [...variants.values()];
  const [only] = all;
  if (all.length === 1 && only !== undefined) return only;
  // Most common first, then by content, so the same variants print in the same order in every cell.
  return { variants: all.sort((a, b) => b.copies - a.copies || (canonicalJson(a) < canonicalJson(b) ? -1 : 1)) };
}
