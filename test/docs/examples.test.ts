import { afterAll, beforeAll, expect, it } from 'vitest';
import { runExample } from '../../docs/examples/sql-protocol.ts';
import { runWorkerCoreExample } from '../../docs/examples/worker-core.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

it('docs/examples/sql-protocol.ts runs a diamond to completion', async () => {
  const status = await runExample(db.url);
  expect(status.state).toBe('complete');
  expect(Object.fromEntries(status.steps.map((s) => [s.name, s.results]))).toEqual({
    fetch: 7,
    left: 14,
    right: 49,
    merge: 63,
  });
});

for (const binding of ['napi', 'ffi', 'pg']) {
  it(`docs/examples/worker-core.ts completes its tasks on the ${binding} binding`, async () => {
    const scratch = await createTestDatabase();
    try {
      const statuses = await runWorkerCoreExample(scratch.url, binding);
      expect(statuses.map((s) => [s.state, s.steps[0]?.results])).toEqual([
        ['complete', 'hello, Ada'],
        ['complete', 'hello, Grace'],
        ['complete', 'hello, Edsger'],
      ]);
    } finally {
      await scratch.drop();
    }
  });
}
