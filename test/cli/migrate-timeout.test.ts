/**
 * Review: `tasker-ctl migrate` and its timeout. docs/config.md: DB_MIGRATION_TIMEOUT
 * (orchestration.migrations.timeout_seconds) accepts 1–86400; a bad setting is exit 2
 * (docs/cli.md). `tasker-ctl orchestrator` enforces that range; `tasker-ctl migrate` does not,
 * and a large budget makes the run fail at once with a bogus "exceeded its budget" (exit 1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runCli } from '../cli/run-cli.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

describe('tasker-ctl migrate timeout', () => {
  it('the orchestrator refuses DB_MIGRATION_TIMEOUT=3000000 as a configuration error (exit 2) — the documented range', async () => {
    const result = await runCli(['orchestrator', '--mode', 'migrate-only'], { databaseUrl: db.url, env: { DB_MIGRATION_TIMEOUT: '3000000' } });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('orchestration.migrations.timeout_seconds: must be a whole number from 1 to 86400');
  });

  it('migrate refuses DB_MIGRATION_TIMEOUT=3000000 as a configuration error (exit 2) instead of timing out at once', async () => {
    const result = await runCli(['migrate'], { databaseUrl: db.url, env: { DB_MIGRATION_TIMEOUT: '3000000' } });
    expect(result.stderr).not.toContain('exceeded its 3000000 s budget');
    expect(result.code).toBe(2);
  });

  it('migrate --timeout 3000000 is a usage error (exit 2), not an immediate timeout', async () => {
    const result = await runCli(['migrate', '--timeout', '3000000'], { databaseUrl: db.url });
    expect(result.stderr).not.toContain('exceeded its 3000000 s budget');
    expect(result.code).toBe(2);
  });
});
