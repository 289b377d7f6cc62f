/**
 * The protocol at its edges (migration 0034): a lease released after its task stopped running,
 * a task retried while one of its steps had lost its worker and its message, and a decision
 * reported after its task failed. Each guarantee: no step runs in a cancelled task, a retried
 * task can always finish, and a branch a decision did not choose never runs.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  cancelTask,
  claimSteps,
  createTask,
  getTaskStatus,
  registerTemplate,
  releaseLeases,
  reportStep,
  retryTask,
  sweepExpiredLeases,
  type ClaimedStep,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { queueMessages, sleep } from '../support/queue.ts';
import { single, template } from '../support/templates.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

function claimAll(namespace: string, leaseSeconds = 30, workerId = 'w') {
  return claimSteps(db.pool, { namespace, batchSize: 100, leaseSeconds, workerId });
}

async function claimByName(namespace: string, leaseSeconds = 30, workerId = 'w'): Promise<Record<string, ClaimedStep>> {
  const { claimed } = await claimAll(namespace, leaseSeconds, workerId);
  return Object.fromEntries(claimed.map((step) => [step.stepName, step]));
}

async function states(taskId: string): Promise<{ task: string; steps: Record<string, string> }> {
  const status = await getTaskStatus(db.pool, taskId);
  if (status === null) throw new Error(`no task ${taskId}`);
  return { task: status.state, steps: Object.fromEntries(status.steps.map((step) => [step.name, step.state])) };
}

it('a lease released after its task was cancelled does not make the step runnable again', async () => {
  const ns = 'edge_release';
  await registerTemplate(db.pool, single(ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'single' });
  const held = (await claimByName(ns, 30, 'draining-worker')).only!;
  await cancelTask(db.pool, taskId);
  // The draining worker gives back the step it never started.
  expect(await releaseLeases(db.pool, [held], 'draining-worker')).toEqual([{ stepId: held.stepId, released: false }]);
  const next = await claimAll(ns, 30, 'other-worker');
  expect(next.claimed.map((step) => step.stepName)).toEqual([]);
  // The step keeps its lease; the lease sweep cancels it when the lease expires.
  expect(await states(taskId)).toEqual({ task: 'cancelled', steps: { only: 'in_progress' } });
});

it('release_leases waits for a cancel_task under way and then leaves the step alone', async () => {
  const ns = 'edge_release_race';
  await registerTemplate(db.pool, single(ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'single' });
  const held = (await claimByName(ns, 30, 'draining-worker')).only!;
  const canceller = await db.pool.connect();
  try {
    await canceller.query('BEGIN');
    await canceller.query('SELECT * FROM tasker.cancel_task($1::uuid)', [taskId]);
    let settled = false;
    const releasing = releaseLeases(db.pool, [held], 'draining-worker').finally(() => {
      settled = true;
    });
    await sleep(300);
    expect(settled, 'the release waits for the task lock the cancel holds').toBe(false);
    await canceller.query('COMMIT');
    expect(await releasing).toEqual([{ stepId: held.stepId, released: false }]);
  } finally {
    canceller.release();
  }
  expect(await states(taskId)).toEqual({ task: 'cancelled', steps: { only: 'in_progress' } });
  expect(await queueMessages(db.pool, ns)).toHaveLength(1);
});

it('a retried task redelivers a step whose worker died and whose message a claim had archived', async () => {
  const ns = 'edge_retry';
  await registerTemplate(db.pool, template('pair', [{ name: 'a', handler: 'h.a' }, { name: 'b', handler: 'h.b' }], ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'pair' });
  const first = await claimByName(ns, 1);
  await reportStep(db.pool, { ...first.a!, outcome: 'permanent_failure', error: { message: 'boom' } });
  // b's worker dies and its lease runs out; a worker polls before the sweeper runs.
  await sleep(1_200);
  const poll = await claimAll(ns);
  expect(poll.unclaimed.map((step) => step.reason)).toEqual(['task is error; the sweeper will close the step']);
  expect(await retryTask(db.pool, taskId)).toMatchObject({ changed: true, retriedSteps: 2, enqueuedSteps: 2 });
  const again = await claimByName(ns);
  expect(Object.keys(again).sort()).toEqual(['a', 'b']);
  for (const step of Object.values(again)) await reportStep(db.pool, { ...step, outcome: 'success' });
  await sweepExpiredLeases(db.pool);
  expect(await states(taskId)).toEqual({ task: 'complete', steps: { a: 'complete', b: 'complete' } });
  expect(await queueMessages(db.pool, ns)).toHaveLength(0);
});

it('a decision reported after its task failed is not applied, and after a retry the decision runs again', async () => {
  const ns = 'edge_decide';
  await registerTemplate(
    db.pool,
    template(
      'decide',
      [
        { name: 'review', handler: 'h.review', type: 'decision' },
        { name: 'approve', handler: 'h.approve', dependencies: ['review'] },
        { name: 'reject', handler: 'h.reject', dependencies: ['review'] },
        { name: 'other', handler: 'h.other' },
      ],
      ns,
    ),
  );
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'decide' });
  const first = await claimByName(ns);
  // A sibling fails the task while the decision's handler runs; then the decision reports.
  expect((await reportStep(db.pool, { ...first.other!, outcome: 'permanent_failure', error: { message: 'x' } })).taskState).toBe('error');
  const decided = await reportStep(db.pool, { ...first.review!, outcome: 'success', activate: ['approve'] });
  expect(decided).toMatchObject({ accepted: true, stepState: 'cancelled' });
  expect(decided.reason).toMatch(/the decision \(approve\) was not applied; retry_task runs the step again/);

  await retryTask(db.pool, taskId);
  const second = await claimByName(ns);
  expect(Object.keys(second).sort()).toEqual(['other', 'review']);
  await reportStep(db.pool, { ...second.review!, outcome: 'success', activate: ['approve'] });
  await reportStep(db.pool, { ...second.other!, outcome: 'success' });
  const third = await claimByName(ns);
  expect(Object.keys(third)).toEqual(['approve']);
  await reportStep(db.pool, { ...third.approve!, outcome: 'success' });
  expect(await states(taskId)).toEqual({
    task: 'complete',
    steps: { review: 'complete', approve: 'complete', reject: 'skipped', other: 'complete' },
  });
});

it('a report from the run before retry_task loses its compare-and-swap: lease names are never reused', async () => {
  const ns = 'edge_retry_lease';
  await registerTemplate(db.pool, template('pair', [{ name: 'a', handler: 'h.a' }, { name: 'b', handler: 'h.b' }], ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'pair' });
  const first = await claimByName(ns, 1, 'hung-worker');
  await reportStep(db.pool, { ...first.a!, outcome: 'permanent_failure', error: { message: 'boom' } });
  // b's worker hangs through the failure, its lease running out, and the retry.
  await sleep(1_200);
  await retryTask(db.pool, taskId);
  const again = await claimByName(ns, 30, 'new-worker');
  expect(again.b).toBeDefined();
  expect([again.b!.attempt, again.b!.delivery]).not.toEqual([first.b!.attempt, first.b!.delivery]);
  // The hung worker wakes up and reports under its old lease.
  const stale = await reportStep(db.pool, { ...first.b!, outcome: 'success', result: { from: 'hung-worker' } }, 'hung-worker');
  expect(stale.accepted).toBe(false);
  expect(stale.reason).toMatch(/stale attempt/);
  expect(await reportStep(db.pool, { ...again.b!, outcome: 'success', result: { from: 'new-worker' } }, 'new-worker')).toMatchObject({
    accepted: true,
  });
  await reportStep(db.pool, { ...again.a!, outcome: 'success' });
  const status = await getTaskStatus(db.pool, taskId);
  expect(status?.state).toBe('complete');
  expect(status?.steps.find((step) => step.name === 'b')?.results).toEqual({ from: 'new-worker' });
});

it('retry_task gives each retried step a fresh budget of attempts and backoff, counting on from its last attempt', async () => {
  const ns = 'edge_retry_budget';
  await registerTemplate(
    db.pool,
    single(ns, { retry: { max_attempts: 2, backoff_ms: 1_000, max_backoff_ms: 600_000 } }),
  );
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'single' });
  const one = (await claimByName(ns)).only!;
  expect([one.attempt, one.maxAttempts]).toEqual([1, 2]);
  await reportStep(db.pool, { ...one, outcome: 'retryable_failure', error: { message: 'x' }, retryAfterMs: 0 });
  const two = (await claimByName(ns)).only!;
  expect([two.attempt, two.maxAttempts]).toEqual([2, 2]);
  expect(await reportStep(db.pool, { ...two, outcome: 'retryable_failure', error: { message: 'x' } })).toMatchObject({
    stepState: 'error',
    taskState: 'error',
  });

  await retryTask(db.pool, taskId);
  const three = (await claimByName(ns)).only!;
  // Two more attempts, numbered on from the last, so the first run's leases stay unique.
  expect([three.attempt, three.maxAttempts]).toEqual([3, 4]);
  const before = Date.now();
  const failed = await reportStep(db.pool, { ...three, outcome: 'retryable_failure', error: { message: 'x' } });
  expect(failed.stepState).toBe('waiting_for_retry');
  // The backoff starts over too: the first retry of the run waits backoff_ms (plus up to 25%),
  // not backoff_ms · 2^(3−1).
  const delay = failed.nextRetryAt!.getTime() - before;
  expect(delay).toBeGreaterThan(900);
  expect(delay).toBeLessThan(2_000);
});

it('retry_task leaves the attempt of a step that never ran under it alone', async () => {
  const ns = 'edge_retry_unrun';
  await registerTemplate(db.pool, template('pair', [{ name: 'a', handler: 'h.a' }, { name: 'b', handler: 'h.b', dependencies: ['a'] }], ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'pair' });
  const a = (await claimByName(ns)).a!;
  await reportStep(db.pool, { ...a, outcome: 'permanent_failure', error: { message: 'boom' } });
  await retryTask(db.pool, taskId);
  const again = (await claimByName(ns)).a!;
  expect([again.attempt, again.maxAttempts]).toEqual([2, 4]);
  await reportStep(db.pool, { ...again, outcome: 'success' });
  const b = (await claimByName(ns)).b!;
  // b was cancelled before any delivery: no lease of it exists, so its numbering starts at 1.
  expect([b.attempt, b.delivery, b.maxAttempts]).toEqual([1, 1, 3]);
});

it('a handler aborted because its task stopped does not fail the task again once it was retried', async () => {
  const { failureFromThrown } = await import('../../sdk/src/handler/failure-report.ts');
  const { StepCancelledError } = await import('../../sdk/src/handler/errors.ts');
  const { extendLeases } = await import('../../sdk/src/protocol/index.ts');
  const ns = 'edge_stale_abort';
  await registerTemplate(db.pool, template('pair', [{ name: 'a', handler: 'h.a' }, { name: 'b', handler: 'h.b' }], ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'pair' });
  const first = await claimByName(ns);
  await reportStep(db.pool, { ...first.a!, outcome: 'permanent_failure', error: { message: 'boom' } });
  // b's heartbeat learns the task stopped: its worker aborts the handler...
  const [heartbeat] = await extendLeases(db.pool, [first.b!], 30);
  expect(heartbeat?.abort).toBe(true);
  // ...while an operator retries the task (b's lease still holds, so b keeps running)...
  await retryTask(db.pool, taskId);
  // ...and then the aborted handler's report arrives, as the worker maps the abort reason.
  const aborted = failureFromThrown(new StepCancelledError('the task is no longer running or the lease was lost'));
  await reportStep(db.pool, { ...first.b!, ...aborted });
  expect((await states(taskId)).task).toBe('in_progress');
  // b runs again in the retried task, and the task can finish.
  await sleep(1_500);
  const again = await claimByName(ns);
  for (const step of Object.values(again)) await reportStep(db.pool, { ...step, outcome: 'success' });
  expect(await states(taskId)).toEqual({ task: 'complete', steps: { a: 'complete', b: 'complete' } });
});

it('retry_task restarts a step whose handler was told to stop, and its late report is refused (not retryable)', async () => {
  const { failureFromThrown } = await import('../../sdk/src/handler/failure-report.ts');
  const { StepCancelledError } = await import('../../sdk/src/handler/errors.ts');
  const { extendLeases } = await import('../../sdk/src/protocol/index.ts');
  const ns = 'edge_stale_abort_once';
  await registerTemplate(
    db.pool,
    template('pair', [{ name: 'a', handler: 'h.a' }, { name: 'b', handler: 'h.b', retry: { retryable: false } }], ns),
  );
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'pair' });
  const first = await claimByName(ns);
  await reportStep(db.pool, { ...first.a!, outcome: 'permanent_failure', error: { message: 'boom' } });
  const [heartbeat] = await extendLeases(db.pool, [first.b!], 30);
  expect(heartbeat?.abort).toBe(true);
  expect(await retryTask(db.pool, taskId)).toMatchObject({ changed: true, retriedSteps: 2, enqueuedSteps: 2 });
  // The aborted handler's report quotes the lease of the run before the retry: refused.
  const late = await reportStep(db.pool, { ...first.b!, ...failureFromThrown(new StepCancelledError('the task stopped')) });
  expect(late).toMatchObject({ accepted: false, reason: 'step is enqueued' });
  const again = await claimByName(ns);
  expect(Object.keys(again).sort()).toEqual(['a', 'b']);
  for (const step of Object.values(again)) await reportStep(db.pool, { ...step, outcome: 'success' });
  expect(await states(taskId)).toEqual({ task: 'complete', steps: { a: 'complete', b: 'complete' } });
});
