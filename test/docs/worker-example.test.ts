import { afterAll, beforeAll, expect, it } from 'vitest';
import { runWorkerAndClientExample } from '../../docs/examples/worker-and-client.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

it('docs/examples/worker-and-client.ts runs its task to completion', async () => {
  const task = await runWorkerAndClientExample(db.url);
  expect(task.state).toBe('complete');
  expect(task.steps.map((step) => step.result)).toEqual(['hello, ada', 'HELLO, ADA']);
});
