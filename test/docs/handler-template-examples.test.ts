import { afterAll, beforeAll, expect, it } from 'vitest';
import { runHandlersExample } from '../../docs/examples/handlers.ts';
import { runTemplatesExample } from '../../docs/examples/templates.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

it('docs/examples/handlers.ts routes a small order to auto approval and a large one to review', async () => {
  const { tasks, log } = await runHandlersExample(db.url, [
    { order_id: 'small', items: [{ sku: 'A', quantity: 2, price: 10 }] },
    { order_id: 'large', items: [{ sku: 'B', quantity: 1, price: 500 }] },
  ]);
  const byStep = tasks.map((task) => Object.fromEntries(task.steps.map((s) => [s.name, [s.state, s.results]])));
  expect(tasks.map((t) => t.state)).toEqual(['complete', 'complete']);
  expect(byStep[0]).toMatchObject({
    price_order: ['complete', { total: 20 }],
    route: ['complete', { converted: 21.6 }],
    auto_approve: ['complete', { approvedBy: 'rules' }],
    manual_review: ['skipped', null],
    close_order: ['complete', { closed: true, approval: { approvedBy: 'rules' } }],
  });
  expect(byStep[1]).toMatchObject({ auto_approve: ['skipped', null], close_order: ['complete', { approval: { approvedBy: 'reviewer' } }] });
  // fetch_fx_rate failed once (RetryableError) and succeeded on its second attempt.
  expect(tasks[0]?.steps.find((s) => s.name === 'fetch_fx_rate')).toMatchObject({ attempt: 2, results: { currency: 'EUR', rate: 1.08 } });
  expect(log.filter((r) => r.message === 'priced the order').map((r) => [r.fields['orderId'], r.fields['stepName']])).toEqual([
    ['small', 'price_order'],
    ['large', 'price_order'],
  ]);
});

it('docs/examples/templates.ts registers the templates and shows the errors', async () => {
  const outcome = await runTemplatesExample(db.url);
  expect(outcome.registered).toEqual(['docs_orders/order_review@1.0.0']);
  expect(outcome.templateError).toBe(
    'templates/broken.yaml:7:28: steps[0] (charge).retry.max_attempts: must be a whole number from 1 to 1000, got 0',
  );
  expect(outcome.contextErrors).toEqual([
    { path: '/order_id', message: 'must NOT have fewer than 1 characters' },
    { path: '/items/0/price', message: 'is required' },
    { path: '/items/0/quantity', message: 'must be >= 1' },
  ]);
});
