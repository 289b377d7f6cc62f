/**
 * docs/cli.md: exit 2 is a "usage or configuration error: ... a missing or malformed argument".
 * Two argument values used to reach the database unchecked and come back as exit 1 with a message
 * not naming the flag: an `--idempotency-key` of 0 or more than 255 characters, and a `--context`
 * string holding U+0000 (JSON allows it, jsonb cannot store it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runCli, type CliResult } from './run-cli.ts';
import { oneStep, scratchDir } from './scratch-templates.ts';

let db: TestDatabase;
let dir: Awaited<ReturnType<typeof scratchDir>>;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await scratchDir('args');
  const file = await dir.write('t.yaml', oneStep('cli_args', 'order', '1.0.0'));
  const register = await runCli(['template', 'register', file], { databaseUrl: db.url });
  expect(register.code, register.stderr).toBe(0);
});

afterAll(async () => {
  await db.drop();
  await dir.cleanup();
});

function create(...args: string[]): Promise<CliResult> {
  return runCli(['task', 'create', 'cli_args/order', ...args], { databaseUrl: db.url });
}

async function taskCount(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM tasker.tasks');
  return rows[0]!.n;
}

describe('task create: malformed argument values are usage errors naming the flag', () => {
  it('--context that is not an object is exit 2 naming --context (control)', async () => {
    const result = await create('--context', '[1]');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--context');
  });

  it('an empty --idempotency-key is exit 2 naming --idempotency-key', async () => {
    const before = await taskCount();
    const result = await create('--idempotency-key', '');
    expect(result.stderr).toContain('--idempotency-key');
    expect(result.code, result.stderr).toBe(2);
    expect(await taskCount()).toBe(before);
  });

  it('a 256-character --idempotency-key is exit 2 naming --idempotency-key', async () => {
    const result = await create('--idempotency-key', 'k'.repeat(256));
    expect(result.stderr).toContain('--idempotency-key');
    expect(result.code, result.stderr).toBe(2);
  });

  it('--context with a NUL character is exit 2 naming --context and the field', async () => {
    const result = await create('--context', '{"note":"a\\u0000b"}');
    expect(result.stderr).toContain('--context');
    expect(result.stderr).toContain('note');
    expect(result.code, result.stderr).toBe(2);
  });
});
