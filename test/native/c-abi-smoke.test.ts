import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

it('the C ABI survives bad input and runs a real core from a plain C program', () => {
  const script = fileURLToPath(new URL('../../native/scripts/c-smoke.sh', import.meta.url));
  const run = spawnSync('sh', [script], {
    encoding: 'utf8',
    env: { ...process.env, TASKER_DATABASE_URL: db.url },
    timeout: 120_000,
  });
  const output = `${run.stdout}\n${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toContain('C ABI smoke test passed');
  // With a database every check runs; nothing may be skipped.
  expect(output).not.toMatch(/^skip/m);
  expect(output).toContain('strings outstanding: 0');
});
