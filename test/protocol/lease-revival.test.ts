/**
 * extend_leases revived an expired lease whose message a claim had already archived; retry_task
 * then trusted that lease and the step was left in a running task with no message: when its
 * worker went away, nothing could redeliver it and the task never finished (fixed by 0037).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createTask,
  extendLeases,
  registerTemplate,
  reportStep,
  retryTask,
  sweepExpiredLeases,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { queueMessages, sleep } from '../support/queue.ts';
import { template } from '../support/templates.ts';
import { claimAll, claimByName, lease, states } from './review-helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

it('a retried task can finish after a late heartbeat revived a lease whose message a claim had archived', async () => {
  const ns = 'rv_revive';
  await registerTemplate(db.pool, template('pair', [{ name: 'a', handler: 'h.a' }, { name: 'b', handler: 'h.b' }], ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'pair' });
  const first = await claimByName(db.pool, ns, 1);
  await reportStep(db.pool, { ...lease(first.a!), outcome: 'permanent_failure', error: { message: 'boom' } });
  // b's worker stalls past its lease; a worker polls and the claim archives b's message.
  await sleep(1_200);
  const poll = await claimAll(db.pool, ns);
  expect(poll).toEqual([]);
  // b's worker wakes up and heartbeats: its expired lease in a stopped task is not revived (0037).
  const [extension] = await extendLeases(db.pool, [lease(first.b!)], 2);
  expect(extension).toMatchObject({ extended: false, abort: true });
  // The task is retried; b's worker then stops for good.
  expect(await retryTask(db.pool, taskId)).toMatchObject({ changed: true });
  const again = await claimByName(db.pool, ns);
  await reportStep(db.pool, { ...lease(again.a!), outcome: 'success' });
  // b must be runnable again: handed out with a at once (its lapsed lease was closed by the retry),
  // or later (redelivered, or closed by the sweep so the task can end).
  let redelivered = again;
  if (again.b === undefined) {
    await sleep(2_200);
    await sweepExpiredLeases(db.pool);
    redelivered = await claimByName(db.pool, ns);
  }
  if (redelivered.b) await reportStep(db.pool, { ...lease(redelivered.b), outcome: 'success' });
  await sweepExpiredLeases(db.pool);
  const end = await states(db.pool, taskId);
  const messages = await queueMessages(db.pool, ns);
  expect({ ...end, bMessages: messages.length, bRedelivered: redelivered.b !== undefined }).toEqual({
    task: 'complete',
    steps: { a: 'complete', b: 'complete' },
    bMessages: 0,
    bRedelivered: true,
  });
});
