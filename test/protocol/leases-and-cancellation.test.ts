import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  UnknownTaskError,
  cancelTask,
  claimSteps,
  createTask,
  extendLeases,
  getTaskStatus,
  releaseLeases,
  registerTemplate,
  reportStep,
  sweepExpiredLeases,
  type ClaimedStep,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { archivedMessages, queueMessages, sleep } from '../support/queue.ts';
import { single, template } from '../support/templates.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

async function claimAll(namespace: string, leaseSeconds = 30, workerId?: string) {
  return claimSteps(db.pool, { namespace, batchSize: 100, leaseSeconds, ...(workerId ? { workerId } : {}) });
}

async function claimOne(namespace: string, leaseSeconds = 30): Promise<ClaimedStep> {
  const step = (await claimAll(namespace, leaseSeconds)).claimed[0];
  if (step === undefined) throw new Error(`nothing to claim in ${namespace}`);
  return step;
}

describe('extend_leases', () => {
  it('keeps a long-running step from being redelivered', async () => {
    await registerTemplate(db.pool, single('extend_ns'));
    await createTask(db.pool, { namespace: 'extend_ns', name: 'single' });
    const step = await claimOne('extend_ns', 1);
    const [extension] = await extendLeases(db.pool, [step], 5);
    expect(extension).toMatchObject({ stepId: step.stepId, extended: true, abort: false, taskState: 'in_progress' });
    expect(extension!.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 3000);

    await sleep(1300); // past the original one-second lease
    const again = await claimAll('extend_ns');
    expect(again.claimed).toEqual([]);
    expect(again.unclaimed).toEqual([]);
    const [message] = await queueMessages(db.pool, 'extend_ns');
    expect(message!.vt.getTime()).toBe(extension!.leaseExpiresAt!.getTime());
    expect((await reportStep(db.pool, { ...step, outcome: 'success' })).accepted).toBe(true);
  });

  it('tells the holder of a lost lease to abort', async () => {
    await registerTemplate(db.pool, single('lost_ns'));
    await createTask(db.pool, { namespace: 'lost_ns', name: 'single' });
    const first = await claimOne('lost_ns', 1);
    await sleep(1200);
    const second = await claimOne('lost_ns', 30);
    const [stale, current] = await extendLeases(
      db.pool,
      [first, second].sort((x, y) => x.delivery - y.delivery),
      30,
    );
    expect(stale).toMatchObject({ extended: false, abort: true, leaseExpiresAt: null });
    expect(current).toMatchObject({ extended: true, abort: false });
  });

  it('rejects mismatched arrays', async () => {
    await expect(
      db.pool.query("SELECT * FROM tasker.extend_leases(ARRAY[gen_random_uuid()], ARRAY[1,2], ARRAY[1], 5)"),
    ).rejects.toMatchObject({ code: 'TK007' });
  });
});

describe('release_leases', () => {
  it('puts unused claimed steps back at once, and ignores leases no longer held', async () => {
    await registerTemplate(db.pool, single('release_ns'));
    await createTask(db.pool, { namespace: 'release_ns', name: 'single' });
    const step = await claimOne('release_ns', 300);
    expect(await releaseLeases(db.pool, [step], 'drainer')).toEqual([{ stepId: step.stepId, released: true }]);
    expect(await releaseLeases(db.pool, [step], 'drainer')).toEqual([{ stepId: step.stepId, released: false }]);

    const next = await claimOne('release_ns', 30);
    expect(next).toMatchObject({ stepId: step.stepId, attempt: 1, delivery: 2 });
    expect((await reportStep(db.pool, { ...step, outcome: 'success' })).accepted).toBe(false);
    expect((await reportStep(db.pool, { ...next, outcome: 'success' })).accepted).toBe(true);
    const { rows } = await db.pool.query(
      "SELECT actor, reason FROM tasker.step_transitions WHERE step_id = $1 AND from_state = 'in_progress' AND to_state = 'enqueued'",
      [step.stepId],
    );
    expect(rows).toEqual([{ actor: 'drainer', reason: 'lease released unused' }]);
  });
});

describe('cancel_task', () => {
  it('cancels every step not started, tells running steps to abort, and accepts their report', async () => {
    await registerTemplate(
      db.pool,
      template(
        'pair',
        [
          { name: 'running', handler: 'h.running' },
          { name: 'waiting', handler: 'h.waiting' },
          { name: 'later', handler: 'h.later', dependencies: ['running', 'waiting'] },
        ],
        'cancel_ns',
      ),
    );
    const task = await createTask(db.pool, { namespace: 'cancel_ns', name: 'pair' });
    const { claimed } = await claimSteps(db.pool, { namespace: 'cancel_ns', batchSize: 1, leaseSeconds: 30 });
    const running = claimed[0]!;
    expect(running.stepName).toBe('running');

    const cancelled = await cancelTask(db.pool, task.taskId, { reason: 'customer changed their mind', actor: 'ops' });
    expect(cancelled).toEqual({ taskId: task.taskId, state: 'cancelled', changed: true, cancelledSteps: 2 });
    expect(await cancelTask(db.pool, task.taskId)).toMatchObject({ changed: false, state: 'cancelled' });

    const [extension] = await extendLeases(db.pool, [running], 30);
    expect(extension).toMatchObject({ extended: true, abort: true, taskState: 'cancelled' });
    expect((await claimAll('cancel_ns')).claimed).toEqual([]);

    const report = await reportStep(db.pool, { ...running, outcome: 'success', result: 'late' });
    expect(report).toMatchObject({ accepted: true, stepState: 'complete', taskState: 'cancelled', enqueued: 0 });
    const status = await getTaskStatus(db.pool, task.taskId);
    expect(Object.fromEntries(status!.steps.map((s) => [s.name, s.state]))).toEqual({
      running: 'complete',
      waiting: 'cancelled',
      later: 'cancelled',
    });
    expect(await queueMessages(db.pool, 'cancel_ns')).toEqual([]);
    const { rows } = await db.pool.query(
      'SELECT actor, reason FROM tasker.task_transitions WHERE task_id = $1 ORDER BY transition_id DESC LIMIT 1',
      [task.taskId],
    );
    expect(rows).toEqual([{ actor: 'ops', reason: 'customer changed their mind' }]);
  });

  it('names an unknown task', async () => {
    await expect(cancelTask(db.pool, '00000000-0000-7000-8000-000000000001')).rejects.toThrow(UnknownTaskError);
  });
});

describe('sweep_expired_leases', () => {
  it('dead-letters a step whose lease expired on every delivery, and fails its task', async () => {
    await registerTemplate(db.pool, single('poison_step_ns', { max_deliveries: 2 }));
    const task = await createTask(db.pool, { namespace: 'poison_step_ns', name: 'single' });
    await claimOne('poison_step_ns', 1); // the worker "crashes"
    await sleep(1200);
    expect(await sweepExpiredLeases(db.pool)).toEqual([]); // a delivery is left: not the sweeper's business
    const second = await claimOne('poison_step_ns', 1);
    expect(second.delivery).toBe(2);
    await sleep(1200);

    // With no deliveries left the claim will not hand it out again…
    const third = await claimAll('poison_step_ns');
    expect(third.claimed).toEqual([]);
    expect(third.unclaimed[0]?.reason).toMatch(/delivery limit reached/);

    // …and the sweeper fails it with the reason.
    const actions = await sweepExpiredLeases(db.pool);
    expect(actions).toEqual([
      {
        stepId: second.stepId,
        taskId: task.taskId,
        action: 'dead_lettered',
        reason: "lease expired 2 times without a report (delivery limit 2): the step's worker crashed or hung each time",
      },
    ]);
    const status = await getTaskStatus(db.pool, task.taskId);
    expect(status?.state).toBe('error');
    expect(status?.steps[0]).toMatchObject({ state: 'error', last_error: { kind: 'DeliveryLimitExceeded' } });
    expect(await queueMessages(db.pool, 'poison_step_ns')).toEqual([]);
    expect(await archivedMessages(db.pool, 'poison_step_ns')).toHaveLength(1);
    expect(await sweepExpiredLeases(db.pool)).toEqual([]);
  });

  it('closes an expired lease of a cancelled task', async () => {
    await registerTemplate(db.pool, single('sweep_cancel_ns'));
    const task = await createTask(db.pool, { namespace: 'sweep_cancel_ns', name: 'single' });
    const step = await claimOne('sweep_cancel_ns', 1);
    await cancelTask(db.pool, task.taskId);
    await sleep(1200);
    const actions = await sweepExpiredLeases(db.pool);
    expect(actions).toEqual([
      { stepId: step.stepId, taskId: task.taskId, action: 'cancelled', reason: "task is cancelled and the step's lease expired" },
    ]);
    expect((await getTaskStatus(db.pool, task.taskId))?.steps[0]?.state).toBe('cancelled');
  });
});
