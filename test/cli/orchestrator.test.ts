/**
 * tasker-ctl orchestrator: migrate-only migrates and exits 0; standard mode registers the
 * templates it is given and stops with exit 0 on SIGTERM; bad settings and templates are refused.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { FIXTURES, runCli, spawnCli } from './run-cli.ts';

let empty: TestDatabase;
let migrated: TestDatabase;

beforeAll(async () => {
  empty = await createTestDatabase({ template: false });
  migrated = await createTestDatabase();
});

afterAll(async () => {
  await empty.drop();
  await migrated.drop();
});

describe('orchestrator', () => {
  it('--mode migrate-only migrates an empty database and exits 0', async () => {
    const result = await runCli(['orchestrator', '--mode', 'migrate-only'], { databaseUrl: empty.url, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/\[SUCCESS\] migrate-only: \d+ migration\(s\) applied; nothing else to run/);
    const { rows } = await empty.pool.query<{ present: boolean }>("SELECT to_regclass('tasker.tasks') IS NOT NULL AS present");
    expect(rows[0]?.present).toBe(true);
    const again = await runCli(['orchestrator', '--mode', 'migrate-only'], { databaseUrl: empty.url });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('[SUCCESS] migrate-only: 0 migration(s) applied');
  });

  it('registers its templates, serves until SIGTERM, and exits 0', async () => {
    const orchestrator = spawnCli(['orchestrator', '--templates', join(FIXTURES, 'templates'), '--sweep-interval-ms', '100'], {
      databaseUrl: migrated.url,
    });
    await orchestrator.waitFor('orchestrator started');
    const list = await runCli(['template', 'list', '--json'], { databaseUrl: migrated.url });
    expect((JSON.parse(list.stdout) as Array<{ name: string }>).map((t) => t.name)).toEqual(['failing', 'greeting', 'napping']);
    orchestrator.child.kill('SIGTERM');
    const code = await orchestrator.exited;
    expect(code, orchestrator.output().stderr).toBe(0);
    expect(orchestrator.output().stderr).toContain('orchestrator stopped');
  });

  it('stops with exit 0 on a SIGTERM that arrives while its migrations wait for another runner', async () => {
    const holder = await migrated.pool.connect();
    try {
      // The migration runner's advisory lock (sdk/src/db/migration-runner.ts), held as another runner would.
      await holder.query("SELECT pg_advisory_lock(x'7461736b6572'::bigint)");
      const orchestrator = spawnCli(['orchestrator', '--sweep-interval-ms', '100'], { databaseUrl: migrated.url });
      await orchestrator.waitFor('Another migration runner holds the lock');
      orchestrator.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(orchestrator.child.exitCode, 'the signal must not kill it mid-migration').toBeNull();
      expect(orchestrator.child.signalCode).toBeNull();
      await holder.query("SELECT pg_advisory_unlock(x'7461736b6572'::bigint)");
      const code = await orchestrator.exited;
      expect(code, orchestrator.output().stderr).toBe(0);
      expect(orchestrator.output().stderr).toContain('SIGTERM received: stopping');
      expect(orchestrator.output().stderr).toContain('orchestrator stopped');
    } finally {
      holder.release();
    }
  });

  it('refuses an unknown mode (exit 2) and an invalid template before touching the database (exit 1)', async () => {
    const mode = await runCli(['orchestrator', '--mode', 'sometimes'], { databaseUrl: migrated.url });
    expect(mode.code).toBe(2);
    expect(mode.stderr).toContain('--mode="sometimes" is invalid: expected one of standard, migrate-only, no-migrate');
    const bad = await runCli(['orchestrator', '--templates', join(FIXTURES, 'bad-templates')], {
      databaseUrl: 'postgres://nobody:pw@127.0.0.1:1/none',
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\[ERROR\] .*bad-retry\.yaml:7:\d+: steps\[0\] \(charge\)\.retry\.max_attempts/);
  });
});
