/**
 * The ordering constraints every run must keep, checked on step_transitions (times in
 * microseconds, from clock_timestamp() at each transition):
 * - a step is claimed (in_progress) only after each of its dependencies finished (complete or
 *   skipped);
 * - a step completes at most once;
 * - a task that completed did so after every one of its steps finished.
 * Each broken constraint becomes one readable line naming the task and the steps.
 */

export interface StepTransitionRow {
  task_id: string;
  step: string;
  to_state: string;
  attempt: number;
  delivery: number;
  /** Microseconds since the epoch, as text (beyond 2^53 in a few centuries, but exact as BigInt now). */
  at_us: string;
}

export interface EdgeRow {
  task_id: string;
  from_step: string;
  to_step: string;
}

export interface TaskFinishRow {
  task_id: string;
  to_state: string;
  at_us: string;
}

/** Lines describing every broken constraint; `labels` names tasks as the trace does. */
export function orderingViolations(
  labels: Map<string, string>,
  transitions: StepTransitionRow[],
  edges: EdgeRow[],
  finishes: TaskFinishRow[],
): string[] {
  const finishedAt = new Map<string, bigint>();
  const startsOf = new Map<string, StepTransitionRow[]>();
  const completions = new Map<string, number>();
  const lastFinishOfTask = new Map<string, bigint>();
  for (const row of transitions) {
    const key = `${row.task_id}/${row.step}`;
    const at = BigInt(row.at_us);
    if (row.to_state === 'complete' || row.to_state === 'skipped') finishedAt.set(key, at);
    if (row.to_state === 'in_progress') startsOf.set(key, [...(startsOf.get(key) ?? []), row]);
    if (row.to_state === 'complete') completions.set(key, (completions.get(key) ?? 0) + 1);
    if (['complete', 'skipped', 'error', 'cancelled'].includes(row.to_state)) {
      const previous = lastFinishOfTask.get(row.task_id);
      if (previous === undefined || at > previous) lastFinishOfTask.set(row.task_id, at);
    }
  }
  const label = (taskId: string): string => labels.get(taskId) ?? taskId;
  const violations: string[] = [];
  for (const edge of edges) {
    const depFinished = finishedAt.get(`${edge.task_id}/${edge.from_step}`);
    for (const start of startsOf.get(`${edge.task_id}/${edge.to_step}`) ?? []) {
      if (depFinished === undefined || BigInt(start.at_us) <= depFinished) {
        violations.push(
          `${label(edge.task_id)}: ${edge.to_step} started (attempt ${start.attempt}, delivery ${start.delivery}) ` +
            `${depFinished === undefined ? `but its dependency ${edge.from_step} never finished` : `before its dependency ${edge.from_step} finished`}`,
        );
      }
    }
  }
  for (const [key, count] of completions) {
    if (count > 1) {
      const [taskId = '', step = ''] = key.split('/');
      violations.push(`${label(taskId)}: ${step} completed ${count} times`);
    }
  }
  for (const finish of finishes) {
    const lastStep = lastFinishOfTask.get(finish.task_id);
    if (finish.to_state === 'complete' && lastStep !== undefined && BigInt(finish.at_us) < lastStep) {
      violations.push(`${label(finish.task_id)}: the task completed before its last step finished`);
    }
  }
  return violations.sort();
}
