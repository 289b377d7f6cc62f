/**
 * retry_task never finalizes: a task in error whose steps all completed (its last running step
 * reported after the task timed out) goes back to in_progress with nothing left to run, and no
 * function ever completes it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createTask,
  registerTemplate,
  reportStep,
  retryTask,
  sweepExpiredLeases,
  sweepTaskTimeouts,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { sleep } from '../support/queue.ts';
import { single } from '../support/templates.ts';
import { claimAll, claimByName, lease, states } from './review-helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

it('retry_task of a timed-out task whose running step then completed leaves it able to finish', async () => {
  const ns = 'rv_retry_done';
  await registerTemplate(db.pool, single(ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'single', timeoutMs: 200 });
  const only = (await claimByName(db.pool, ns)).only!;
  await sleep(300);
  expect(await sweepTaskTimeouts(db.pool)).toHaveLength(1);
  // The step's handler finishes just after the deadline: its report is recorded.
  expect(await reportStep(db.pool, { ...lease(only), outcome: 'success' })).toMatchObject({
    accepted: true,
    stepState: 'complete',
    taskState: 'error',
  });
  const retried = await retryTask(db.pool, taskId);
  // Nothing left to run: the task should be complete (or retry_task should leave it alone).
  await claimAll(db.pool, ns);
  await sweepExpiredLeases(db.pool);
  await sweepTaskTimeouts(db.pool);
  const end = await states(db.pool, taskId);
  // retry_task said it changed the task; whatever it did, a task with nothing left to run must
  // not stay in_progress (complete, or left in error, would both be finished).
  expect({ retried: retried.changed, ...end }).toEqual({ retried: true, task: 'complete', steps: { only: 'complete' } });
});
