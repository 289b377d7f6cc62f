/**
 * tasker-ctl and the config: `config generate | validate | show`, production refusing to start
 * without TASKER_CONFIG_PATH, bad settings as exit 2 naming the key, and `worker` and
 * `orchestrator` running with what the config (and flags over it) say. Runs the built CLI
 * (`npm run build` first) as child processes, against a real PostgreSQL.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { parseDatabaseUrl, withDatabaseName } from '../../sdk/src/db/database-url.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { FIXTURES, runCli, spawnCli } from '../cli/run-cli.ts';
import { tempTree, type TempTree } from './tree.ts';

const HANDLERS = join(FIXTURES, 'handlers');
let db: TestDatabase;
let tree: TempTree;

beforeAll(async () => {
  db = await createTestDatabase();
  tree = await tempTree();
  const register = await runCli(['template', 'register', join(FIXTURES, 'templates')], { databaseUrl: db.url });
  expect(register.code, register.stderr).toBe(0);
});

afterAll(async () => {
  await db.drop();
  await tree.remove();
});

describe('config generate, validate and show', () => {
  it('generates a merged file that validates and loads, without the database URL', async () => {
    const output = join(tree.root, 'out/worker.toml');
    const env = { DATABASE_URL: 'postgres://tasker:hunter2@db:5432/tasker' };
    const generated = await runCli(['config', 'generate', '--context', 'worker', '--environment', 'production', '--output', output], { env });
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.stderr).toMatch(/\[SUCCESS\] wrote \S+worker\.toml: worker context, production environment, from 4 files/);
    const text = await readFile(output, 'utf8');
    expect(text).not.toContain('hunter2');
    expect(parse(text)).toMatchObject({ environment: 'production', context: 'worker', common: { log: { format: 'json' } } });

    const production = { TASKER_ENV: 'production', TASKER_CONFIG_PATH: output };
    const validate = await runCli(['config', 'validate', '--context', 'worker'], { env: production });
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toContain('OK     worker (production): 1 file, 0 environment variables');

    const show = await runCli(['config', 'show', '--context', 'worker'], { env: { ...production, ...env, TASKER_WORKER_CONCURRENCY: '4' } });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^common\.database\.url +postgres:\/\/tasker:\*\*\*@db:5432\/tasker +DATABASE_URL$/m);
    expect(show.stdout).toMatch(/^worker\.concurrency +4 +TASKER_WORKER_CONCURRENCY$/m);
    expect(show.stdout).toMatch(/^common\.log\.format +"json" +\S+worker\.toml$/m);
    expect(show.stdout).not.toContain('hunter2');
  });

  it('writes to stdout with --output -', async () => {
    const result = await runCli(['config', 'generate', '--context', 'orchestration', '--environment', 'test', '--output', '-']);
    expect(result.code, result.stderr).toBe(0);
    expect(parse(result.stdout)).toMatchObject({ context: 'orchestration', orchestration: { sweep_interval_ms: 250, web: { port: 0 } } });
  });

  it('validates both contexts by default, listing every problem (exit 2)', async () => {
    const result = await runCli(['config', 'validate'], { env: { TASKER_WORKER_CONCURRENCY: 'abc', DEPLOYMENT_MODE: 'sometimes' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      '[ERROR] orchestration: orchestration.migrations.mode: must be one of standard, migrate-only, no-migrate, got "sometimes" (from DEPLOYMENT_MODE)',
    );
    expect(result.stderr).toContain('[ERROR] worker: worker.concurrency: must be a whole number from 1 to 10000, got "abc" (from TASKER_WORKER_CONCURRENCY)');
  });

  it('refuses an unknown --context (exit 2)', async () => {
    const result = await runCli(['config', 'generate', '--context', 'wroker']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--context expects orchestration or worker, got "wroker"');
  });
});

describe('worker and orchestrator refuse a bad configuration (exit 2)', () => {
  it.each([['worker', '--handlers', HANDLERS, '--namespace', 'cli_demo'], ['orchestrator']])(
    '%s in production without TASKER_CONFIG_PATH',
    async (...args) => {
      const result = await runCli(args, { databaseUrl: db.url, env: { TASKER_ENV: 'production' } });
      expect(result.code).toBe(2);
      const context = args[0] === 'worker' ? 'worker' : 'orchestration';
      expect(result.stderr).toContain(
        `[ERROR] TASKER_CONFIG_PATH: is required when TASKER_ENV=production: set it to the merged config file, made with \`tasker-ctl config generate --context ${context} --environment production --output PATH\``,
      );
    },
  );

  it('worker with a bad setting, naming the key and the variable', async () => {
    const result = await runCli(['worker', '--handlers', HANDLERS, '--namespace', 'cli_demo'], {
      databaseUrl: db.url,
      env: { TASKER_WORKER_CONCURRENCY: 'abc' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('[ERROR] worker.concurrency: must be a whole number from 1 to 10000, got "abc" (from TASKER_WORKER_CONCURRENCY)');
  });
});

describe('settings take effect', () => {
  it('worker: config and variables set concurrency, binding, mode, namespaces and log format; flags win', async () => {
    const path = join(tree.root, 'worker-test.toml');
    const generated = await runCli(['config', 'generate', '--context', 'worker', '--environment', 'test', '--output', path]);
    expect(generated.code, generated.stderr).toBe(0);
    const worker = spawnCli(['worker', '--handlers', HANDLERS, '--shutdown-grace-ms', '1000'], {
      databaseUrl: db.url,
      env: {
        TASKER_CONFIG_PATH: path,
        TASKER_WORKER_NAMESPACES: 'cli_demo',
        TASKER_WORKER_CONCURRENCY: '3',
        TASKER_BINDING: 'pg',
        TASKER_WORKER_DEPLOYMENT_MODE: 'PollingOnly',
        TASKER_LOG_FORMAT: 'json',
      },
    });
    try {
      await worker.waitFor('"message":"worker started"');
      const started = worker
        .output()
        .stderr.split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line['message'] === 'worker started');
      expect(started).toMatchObject({ concurrency: 3, binding: 'pg', mode: 'PollingOnly', namespaces: ['cli_demo'] });
      const task = await runCli(['task', 'create', 'cli_demo/greeting', '--context', '{"name":"config"}', '--wait', '--wait-timeout-ms', '30000'], {
        databaseUrl: db.url,
      });
      expect(task.code, `${task.stderr}\n${worker.output().stderr}`).toBe(0);
    } finally {
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    }

    const flagged = spawnCli(['worker', '--handlers', HANDLERS, '--namespace', 'cli_demo', '--concurrency', '5', '--binding', 'pg'], {
      databaseUrl: db.url,
      env: { TASKER_WORKER_CONCURRENCY: '3' },
    });
    try {
      await flagged.waitFor('worker started');
      expect(flagged.output().stderr).toMatch(/worker started .*concurrency=5/);
    } finally {
      flagged.child.kill('SIGTERM');
      expect(await flagged.exited).toBe(0);
    }
  });

  it('orchestrator: sweep interval and migration mode from the environment layer', async () => {
    const migrateOnly = await runCli(['orchestrator'], { databaseUrl: db.url, env: { DEPLOYMENT_MODE: 'migrate-only', DB_MIGRATION_TIMEOUT: '77' } });
    expect(migrateOnly.code, migrateOnly.stderr).toBe(0);
    expect(migrateOnly.stderr).toMatch(/mode migrate-only, timeout 77 s/);

    const orchestrator = spawnCli(['orchestrator'], {
      databaseUrl: db.url,
      env: { DEPLOYMENT_MODE: 'no-migrate', TASKER_ORCHESTRATION_SWEEP_INTERVAL_MS: '321' },
    });
    try {
      await orchestrator.waitFor('orchestrator started');
      expect(orchestrator.output().stderr).toMatch(/orchestrator started .*sweepIntervalMs=321 .*environment=test/);
    } finally {
      orchestrator.child.kill('SIGTERM');
      expect(await orchestrator.exited).toBe(0);
    }
  });
});

describe('no password in the output', () => {
  it('when the database refuses the worker', async () => {
    const password = parseDatabaseUrl(db.url).password;
    expect(password).not.toBe('');
    const wrong = withDatabaseName(db.url, 'no_such_database_for_config_test');
    for (const binding of ['pg', 'napi']) {
      const result = await runCli(['worker', '--handlers', HANDLERS, '--namespace', 'cli_demo', '--binding', binding], { databaseUrl: wrong });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain('[ERROR]');
      expect(`${result.stdout}${result.stderr}`).not.toContain(password);
    }
  });
});
