import { afterAll, beforeAll, expect, it } from 'vitest';
import { runExample } from '../../docs/examples/sql-protocol.ts';
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
