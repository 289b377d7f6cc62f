/**
 * Error messages: every problem names the key, what it accepts, what it got and where from;
 * unknown keys suggest the nearest known one; all problems are reported at once; and no message
 * repeats a password.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigContext } from '../../sdk/src/config/index.ts';
import { tempTree, type TempTree } from './tree.ts';

let tree: TempTree | undefined;
afterEach(async () => {
  await tree?.remove();
  tree = undefined;
});

async function failure(files: Record<string, string>, env: Record<string, string> = {}, context: ConfigContext = 'worker'): Promise<ConfigError> {
  tree = await tempTree(files);
  const error = await loadConfig({ context, environment: 'test', root: tree.root, env }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error;
}

describe('values from environment variables', () => {
  it.each([
    ['TASKER_WORKER_CONCURRENCY', 'abc', 'worker.concurrency: must be a whole number from 1 to 10000, got "abc" (from TASKER_WORKER_CONCURRENCY)'],
    ['TASKER_WORKER_CONCURRENCY', '0', 'worker.concurrency: must be a whole number from 1 to 10000, got 0 (from TASKER_WORKER_CONCURRENCY)'],
    ['TASKER_WORKER_CONCURRENCY', '2.5', 'worker.concurrency: must be a whole number from 1 to 10000, got "2.5" (from TASKER_WORKER_CONCURRENCY)'],
    [
      'TASKER_WORKER_DEPLOYMENT_MODE',
      'polling',
      'worker.deployment_mode: must be one of Hybrid, EventDrivenOnly, PollingOnly, got "polling"; did you mean PollingOnly? (from TASKER_WORKER_DEPLOYMENT_MODE)',
    ],
    ['TASKER_BINDING', 'wasm', 'worker.binding: must be one of napi, ffi, pg, got "wasm" (from TASKER_BINDING)'],
    [
      'TASKER_MESSAGING_BACKEND',
      'rabbitmq',
      'common.messaging.backend: must be one of pgmq, got "rabbitmq"; Tasker for TypeScript runs on PGMQ only (from TASKER_MESSAGING_BACKEND)',
    ],
    ['TASKER_LOG_LEVEL', 'loud', 'common.log.level: must be one of debug, info, warn, error, got "loud" (from TASKER_LOG_LEVEL)'],
    ['TASKER_WORKER_WEB_PORT', '70000', 'worker.web.port: must be a whole number from 0 to 65535, got 70000 (from TASKER_WORKER_WEB_PORT)'],
    ['TASKER_WORKER_WEB_ENABLED', 'yes', 'worker.web.enabled: must be true or false, got "yes" (from TASKER_WORKER_WEB_ENABLED)'],
    ['DEPLOYMENT_MODE', 'sometimes', 'orchestration.migrations.mode: must be one of standard, migrate-only, no-migrate, got "sometimes" (from DEPLOYMENT_MODE)'],
  ])('%s=%s', async (variable, value, message) => {
    const context = variable === 'DEPLOYMENT_MODE' ? 'orchestration' : 'worker';
    expect((await failure({}, { [variable]: value }, context)).message).toBe(message);
  });

  it('accepts what the variables mean: numbers, lists, booleans, any case of a log level', async () => {
    tree = await tempTree();
    const config = await loadConfig({
      context: 'worker',
      root: tree.root,
      env: { TASKER_WORKER_CONCURRENCY: ' 3 ', TASKER_WORKER_NAMESPACES: 'a, b,,c', TASKER_WORKER_WEB_ENABLED: 'false', TASKER_LOG_LEVEL: 'WARN' },
    });
    expect(config.worker).toMatchObject({ concurrency: 3, namespaces: ['a', 'b', 'c'], web: { enabled: false } });
    expect(config.common.log.level).toBe('warn');
  });

  it('ignores the variables of the other context', async () => {
    tree = await tempTree();
    const config = await loadConfig({ context: 'worker', root: tree.root, env: { DEPLOYMENT_MODE: 'nonsense' } });
    expect(config.worker.concurrency).toBe(10);
  });

  it('names a bad TASKER_ENV', async () => {
    const error = await loadConfig({ context: 'worker', env: { TASKER_ENV: 'prod' } }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('TASKER_ENV: must be one of test, development, production, got "prod"; did you mean production?');
  });
});

describe('values and keys in files', () => {
  it('checks the type of a file value, naming the file', async () => {
    const error = await failure({ 'base/worker.toml': '[worker]\nconcurrency = "10"\n' });
    expect(error.message).toBe(`worker.concurrency: must be a whole number from 1 to 10000, got "10" (from ${tree?.root}/base/worker.toml)`);
  });

  it('rejects an unknown key, suggesting the nearest known one', async () => {
    const error = await failure({ 'environments/test/worker.toml': '[worker]\nconcurency = 2\n\n[worker.web]\nprot = 1\n' });
    expect(error.problems.map((p) => `${p.key}: ${p.problem}`)).toEqual([
      'worker.concurency: unknown key; did you mean worker.concurrency?',
      'worker.web.prot: unknown key; did you mean worker.web.port?',
    ]);
  });

  it('rejects an unknown key with nothing near it, without a guess', async () => {
    const error = await failure({ 'base/common.toml': '[common]\nflux_capacitor = true\n' });
    expect(error.message).toBe(`common.flux_capacitor: unknown key (from ${tree?.root}/base/common.toml)`);
  });

  it('rejects the other context\'s section and a section in the wrong file', async () => {
    const error = await failure({
      'base/worker.toml': '[orchestration]\nsweep_interval_ms = 100\n',
      'base/common.toml': '[worker]\nconcurrency = 2\n',
    });
    expect(error.problems.map((p) => `${p.key}: ${p.problem}`).sort()).toEqual([
      'orchestration: does not belong in this file, which may hold [common] and [worker]',
      'worker: does not belong in this file, which may hold [common]',
    ]);
  });

  it('refuses a database URL in a file without repeating it', async () => {
    const error = await failure({ 'base/common.toml': '[common.database]\nurl = "postgres://tasker:hunter2@db/tasker"\n' });
    expect(error.message).toBe(`common.database.url: is read from DATABASE_URL only: a file must not hold it (from ${tree?.root}/base/common.toml)`);
    expect(error.message).not.toContain('hunter2');
  });

  it('points at the line and column of a TOML syntax error', async () => {
    const error = await failure({ 'base/worker.toml': '[worker]\nconcurrency = = 2\n' });
    expect(error.message).toMatch(new RegExp(`^${tree?.root}/base/worker\\.toml:2:\\d+: invalid TOML: `));
  });

  it('rejects a table where a value belongs and a value where a table belongs', async () => {
    const error = await failure({ 'base/worker.toml': '[worker]\nweb = 8085\n[worker.concurrency]\nmax = 2\n' });
    expect(error.problems.map((p) => `${p.key}: ${p.problem}`)).toEqual([
      'worker.web: must be a table',
      'worker.concurrency: must be a whole number from 1 to 10000, got a table',
    ]);
  });

  it('refuses environment/context names in tree files (they belong to merged files)', async () => {
    const error = await failure({ 'base/worker.toml': 'context = "worker"\n' });
    expect(error.message).toContain('context: only a merged file (TASKER_CONFIG_PATH) names its environment and context');
  });

  it('reports every problem at once, files and variables alike', async () => {
    const error = await failure(
      { 'base/worker.toml': '[worker]\nbatch_size = 0\nconcurency = 2\n' },
      { TASKER_WORKER_LEASE_SECONDS: 'forever' },
    );
    expect(error.problems.map((p) => p.key)).toEqual(['worker.batch_size', 'worker.concurency', 'worker.lease_seconds']);
    expect(error.message).toMatch(/^3 configuration problems:\n {2}- worker\.batch_size: /);
  });
});

describe('checks across keys', () => {
  it('wants a heartbeat shorter than the lease', async () => {
    const error = await failure({ 'base/worker.toml': '[worker]\nlease_seconds = 5\n' }, { TASKER_WORKER_HEARTBEAT_MS: '5000' });
    expect(error.message).toBe(
      'worker.heartbeat_ms: must be shorter than the lease (worker.lease_seconds = 5, so under 5000), or leases lapse between heartbeats; got 5000 (from TASKER_WORKER_HEARTBEAT_MS)',
    );
  });

  it('wants claims to grow to no less than they start at', async () => {
    const error = await failure({ 'base/worker.toml': '[worker]\nbatch_size = 20\n' }, { TASKER_WORKER_MAX_BATCH_SIZE: '10' });
    expect(error.message).toBe(
      'worker.max_batch_size: must be at least worker.batch_size (20), the size claims start at; got 10 (from TASKER_WORKER_MAX_BATCH_SIZE)',
    );
  });

  it('wants REST and gRPC on different ports', async () => {
    const error = await failure({}, { TASKER_ORCHESTRATION_GRPC_PORT: '8080' }, 'orchestration');
    expect(error.message).toBe('orchestration.grpc.port: must differ from orchestration.web.port (both 8080) (from TASKER_ORCHESTRATION_GRPC_PORT)');
    tree = await tempTree();
    // A disabled server, or "any free port" (0), clashes with nothing.
    const env = { TASKER_ORCHESTRATION_GRPC_PORT: '8080', TASKER_ORCHESTRATION_GRPC_ENABLED: 'false' };
    await expect(loadConfig({ context: 'orchestration', root: tree.root, env })).resolves.toBeDefined();
    await expect(
      loadConfig({ context: 'orchestration', root: tree.root, env: { TASKER_ORCHESTRATION_GRPC_PORT: '0', TASKER_ORCHESTRATION_WEB_PORT: '0' } }),
    ).resolves.toBeDefined();
  });

  it('names an explicit TASKER_CONFIG_ROOT that is not there', async () => {
    const error = await loadConfig({ context: 'worker', env: { TASKER_CONFIG_ROOT: '/nonexistent/tasker' } }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('TASKER_CONFIG_ROOT: /nonexistent/tasker is not a directory of config files');
  });
});
