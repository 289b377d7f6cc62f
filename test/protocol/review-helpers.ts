import {
  claimSteps,
  getTaskStatus,
  type ClaimedStep,
  type Queryable,
} from '../../sdk/src/protocol/index.ts';

export async function claimAll(db: Queryable, namespace: string, leaseSeconds = 30, workerId = 'w'): Promise<ClaimedStep[]> {
  return (await claimSteps(db, { namespace, batchSize: 1000, leaseSeconds, workerId })).claimed;
}

export async function claimByName(db: Queryable, namespace: string, leaseSeconds = 30, workerId = 'w'): Promise<Record<string, ClaimedStep>> {
  const claimed = await claimAll(db, namespace, leaseSeconds, workerId);
  return Object.fromEntries(claimed.map((step) => [step.stepName, step]));
}

export async function states(db: Queryable, taskId: string): Promise<{ task: string; steps: Record<string, string> }> {
  const status = await getTaskStatus(db, taskId);
  if (status === null) throw new Error(`no task ${taskId}`);
  return { task: status.state, steps: Object.fromEntries(status.steps.map((step) => [step.name, step.state])) };
}

export function lease(step: ClaimedStep): { stepId: string; attempt: number; delivery: number } {
  return { stepId: step.stepId, attempt: step.attempt, delivery: step.delivery };
}

/** Every step's log as a chain of "from>to" hops, and the task's. */
export async function logChains(db: Queryable, taskId: string): Promise<{ task: string[]; steps: Record<string, string[]> }> {
  const task = await db.query<{ f: string | null; t: string }>(
    `SELECT from_state AS f, to_state AS t FROM tasker.task_transitions WHERE task_id = $1 ORDER BY transition_id`,
    [taskId],
  );
  const steps = await db.query<{ name: string; f: string | null; t: string }>(
    `SELECT s.name, x.from_state AS f, x.to_state AS t
     FROM tasker.step_transitions x JOIN tasker.workflow_steps s ON s.step_id = x.step_id
     WHERE x.task_id = $1 ORDER BY x.transition_id`,
    [taskId],
  );
  const out: Record<string, string[]> = {};
  for (const r of steps.rows) (out[r.name] ??= []).push(`${r.f ?? 'NULL'}>${r.t}`);
  return { task: task.rows.map((r) => `${r.f ?? 'NULL'}>${r.t}`), steps: out };
}

/** Problems with the logs: a hop whose from differs from the previous to, or a last to that is not the state. */
export async function logProblems(db: Queryable, taskId: string): Promise<string[]> {
  const problems: string[] = [];
  const chains = await logChains(db, taskId);
  const now = await states(db, taskId);
  const check = (label: string, chain: string[], current: string) => {
    let prev = 'NULL';
    for (const hop of chain) {
      const [f, t] = hop.split('>');
      if (f !== prev) problems.push(`${label}: hop ${hop} after ${prev}`);
      prev = t!;
    }
    if (prev !== current) problems.push(`${label}: log ends at ${prev}, state is ${current}`);
  };
  check('task', chains.task, now.task);
  for (const [name, state] of Object.entries(now.steps)) check(name, chains.steps[name] ?? [], state);
  return problems;
}
