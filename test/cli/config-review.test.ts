/**
 * Review of `tasker-ctl config ...` against docs/cli.md and docs/config.md. No database needed.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.ts';

describe('config generate --output', () => {
  it('names the path it cannot write, as an [ERROR] line, without a stack trace (exit 1)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'review-cli-'));
    // --output names an existing directory: the file cannot be written there.
    const result = await runCli(['config', 'generate', '--context', 'worker', '--output', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^\[ERROR\] /);
    expect(result.stderr).not.toContain('Unexpected failure');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('a blank TASKER_ENV', () => {
  it('means development for config generate, as it does for config show', async () => {
    const show = await runCli(['config', 'show', '--context', 'worker', '--json'], { env: { TASKER_ENV: '' } });
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ environment: 'development' });

    const generate = await runCli(['config', 'generate', '--context', 'worker', '--output', '-'], { env: { TASKER_ENV: '' } });
    expect(generate.stderr).toBe('');
    expect(generate.code).toBe(0);
    expect(generate.stdout).toContain('environment = "development"');
  });
});

describe('common.database.url (DATABASE_URL): accepts a URL', () => {
  // docs/config.md: common.database.url | DATABASE_URL | ... | accepts: URL. `validate` "loads the
  // configuration as a service started here would" and reports every problem (exit 2).
  const NOT_POSTGRES = 'mysql://tasker:secret@db.example/tasker';

  it('config validate reports a DATABASE_URL that is not a PostgreSQL URL (exit 2)', async () => {
    const result = await runCli(['config', 'validate', '--context', 'worker'], { databaseUrl: NOT_POSTGRES });
    expect(result.stdout).not.toContain('OK     worker');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('common.database.url');
    expect(result.stderr).not.toContain('secret');
  });

  it('the orchestrator refuses it as a bad setting (exit 2), as the service does for every other key', async () => {
    const result = await runCli(['orchestrator', '--mode', 'migrate-only'], { databaseUrl: NOT_POSTGRES });
    expect(result.stderr).not.toContain('secret');
    expect(result.code).toBe(2);
  });
});
