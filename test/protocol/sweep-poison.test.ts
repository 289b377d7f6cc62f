/**
 * sweep_expired_leases: two steps of one task whose leases both expired on their last delivery.
 * The first fails the task; the second is then treated as "a step of a finished task" and
 * cancelled, its message deleted: no DeliveryLimitExceeded error and no dead letter for it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTask, registerTemplate, sweepExpiredLeases } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { archivedMessages, sleep } from '../support/queue.ts';
import { template } from '../support/templates.ts';
import { claimByName, states } from './review-helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

it('dead-letters every step whose lease expired on its last delivery, also the second of one task', async () => {
  const ns = 'rv_poison';
  await registerTemplate(
    db.pool,
    template('pair', [
      { name: 'a', handler: 'h.a', max_deliveries: 1 },
      { name: 'b', handler: 'h.b', max_deliveries: 1 },
    ], ns),
  );
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'pair' });
  const held = await claimByName(db.pool, ns, 1);
  expect(Object.keys(held).sort()).toEqual(['a', 'b']);
  // Both workers crash on their only allowed delivery.
  await sleep(1_300);
  const swept = await sweepExpiredLeases(db.pool);
  const archived = await archivedMessages(db.pool, ns);
  expect({
    actions: swept.map((s) => s.action).sort(),
    archived: archived.length,
    ...(await states(db.pool, taskId)),
  }).toEqual({
    actions: ['dead_lettered', 'dead_lettered'],
    archived: 2,
    task: 'error',
    steps: { a: 'error', b: 'error' },
  });
});
