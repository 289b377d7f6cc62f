/**
 * Layering: base < environment < context < environment variables, key by key; one merged file
 * (TASKER_CONFIG_PATH) instead of the tree; production refusing to start without that file; and
 * the repository's base files agreeing with the built-in defaults.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BINDING_NAMES } from '../../sdk/src/binding/select.ts';
import { ConfigError, CONFIG_KEYS, loadConfig, type TaskerConfig } from '../../sdk/src/config/index.ts';
import { BINDINGS } from '../../sdk/src/config/schema.ts';
import { REPO_TREE, tempTree, type TempTree } from './tree.ts';

let tree: TempTree | undefined;
afterEach(async () => {
  await tree?.remove();
  tree = undefined;
});

async function problemsOf(load: Promise<unknown>): Promise<string> {
  const error = await load.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).message;
}

describe('precedence', () => {
  // Four keys, each set by one more layer than the last: the highest layer that sets a key wins.
  const files = {
    'base/common.toml': '[common.log]\nlevel = "debug"\n',
    'base/worker.toml': '[worker]\nconcurrency = 1\nbatch_size = 1\nlease_seconds = 1\npool_size = 1\n',
    'environments/test/common.toml': '[common.log]\nformat = "json"\n',
    'environments/test/worker.toml': '[worker]\nbatch_size = 3\nlease_seconds = 3\npool_size = 3\n',
  };

  async function load(env: Record<string, string>, environment = 'test'): Promise<TaskerConfig> {
    tree = await tempTree({ ...files, 'environments/development/worker.toml': '[worker]\nbatch_size = 2\n' });
    return loadConfig({ context: 'worker', environment, root: tree.root, env });
  }

  it('takes each key from the highest layer that sets it', async () => {
    const config = await load({ TASKER_WORKER_POOL_SIZE: '4' });
    expect(config.worker).toMatchObject({ concurrency: 1, batchSize: 3, leaseSeconds: 3, poolSize: 4 });
    expect(config.common.log).toEqual({ level: 'debug', format: 'json' });
    expect(config.sources).toMatchObject({
      'worker.concurrency': `${tree?.root}/base/worker.toml`,
      'worker.batch_size': `${tree?.root}/environments/test/worker.toml`,
      'worker.pool_size': 'TASKER_WORKER_POOL_SIZE',
      'worker.report_batch_max': 'default',
    });
    expect(config.files).toHaveLength(4);
  });

  it('reads only the chosen environment', async () => {
    const config = await load({}, 'development');
    expect(config.worker).toMatchObject({ concurrency: 1, batchSize: 2, leaseSeconds: 1 });
    expect(config.common.log.format).toBe('pretty');
  });

  it('lets a context file override a common key for that context only', async () => {
    tree = await tempTree({
      'base/common.toml': '[common.log]\nlevel = "warn"\n',
      'environments/test/common.toml': '[common.log]\nlevel = "error"\n',
      'environments/test/orchestration.toml': '[common.log]\nlevel = "debug"\n',
    });
    const orchestration = await loadConfig({ context: 'orchestration', environment: 'test', root: tree.root, env: {} });
    const worker = await loadConfig({ context: 'worker', environment: 'test', root: tree.root, env: {} });
    expect(orchestration.common.log.level).toBe('debug');
    expect(worker.common.log.level).toBe('error');
  });

  it('takes the environment from TASKER_ENV, default development', async () => {
    tree = await tempTree({ 'environments/test/worker.toml': '[worker]\nconcurrency = 7\n' });
    expect((await loadConfig({ context: 'worker', root: tree.root, env: { TASKER_ENV: 'test' } })).worker.concurrency).toBe(7);
    const fallback = await loadConfig({ context: 'worker', root: tree.root, env: {} });
    expect(fallback.environment).toBe('development');
    expect(fallback.worker.concurrency).toBe(10);
  });

  it('uses TASKER_CONFIG_ROOT when no root is given', async () => {
    tree = await tempTree({ 'base/worker.toml': '[worker]\nconcurrency = 5\n' });
    const config = await loadConfig({ context: 'worker', env: { TASKER_CONFIG_ROOT: tree.root } });
    expect(config.worker.concurrency).toBe(5);
  });

  it('works out computed defaults from the values they depend on', async () => {
    tree = await tempTree({ 'base/worker.toml': '[worker]\ndeployment_mode = "PollingOnly"\nlease_seconds = 9\nbatch_size = 4\n' });
    const config = await loadConfig({ context: 'worker', root: tree.root, env: {} });
    expect(config.worker).toMatchObject({ pollIntervalMs: 100, heartbeatMs: 3000, maxBatchSize: 100, prefetch: 200 });
    const large = await loadConfig({ context: 'worker', root: tree.root, env: { TASKER_WORKER_BATCH_SIZE: '150' } });
    expect(large.worker).toMatchObject({ batchSize: 150, maxBatchSize: 150, prefetch: 300 });
    const hybrid = await loadConfig({ context: 'worker', root: tree.root, env: { TASKER_WORKER_DEPLOYMENT_MODE: 'Hybrid' } });
    expect(hybrid.worker.pollIntervalMs).toBe(1000);
  });

  it('keeps the event mode and the migration mode apart', async () => {
    const config = await loadConfig({
      context: 'orchestration',
      root: REPO_TREE,
      env: { DEPLOYMENT_MODE: 'migrate-only', TASKER_ORCHESTRATION_DEPLOYMENT_MODE: 'PollingOnly' },
    });
    expect(config.orchestration.migrations.mode).toBe('migrate-only');
    expect(config.orchestration.deploymentMode).toBe('PollingOnly');
  });
});

describe('TASKER_CONFIG_PATH', () => {
  const merged = 'environment = "production"\ncontext = "worker"\n[worker]\nconcurrency = 3\n[common.log]\nformat = "json"\n';

  it('is required in production, with a message saying how to make one', async () => {
    const message = await problemsOf(loadConfig({ context: 'worker', root: REPO_TREE, env: { TASKER_ENV: 'production' } }));
    expect(message).toBe(
      'TASKER_CONFIG_PATH: is required when TASKER_ENV=production: set it to the merged config file, made with ' +
        '`tasker-ctl config generate --context worker --environment production --output PATH`',
    );
  });

  it('replaces the tree, and environment variables still override it', async () => {
    tree = await tempTree({ 'base/worker.toml': '[worker]\nbatch_size = 9\n' });
    const path = await tree.write('worker.toml', merged);
    const config = await loadConfig({
      context: 'worker',
      root: tree.root,
      env: { TASKER_ENV: 'production', TASKER_CONFIG_PATH: path, TASKER_WORKER_POOL_SIZE: '2' },
    });
    expect(config.environment).toBe('production');
    expect(config.files).toEqual([path]);
    expect(config.worker).toMatchObject({ concurrency: 3, batchSize: 10, poolSize: 2 });
  });

  it('takes the environment from the file when TASKER_ENV is unset', async () => {
    tree = await tempTree();
    const path = await tree.write('worker.toml', merged);
    expect((await loadConfig({ context: 'worker', env: { TASKER_CONFIG_PATH: path } })).environment).toBe('production');
  });

  it('refuses a file made for another context or environment', async () => {
    tree = await tempTree();
    const path = await tree.write('worker.toml', merged);
    expect(await problemsOf(loadConfig({ context: 'orchestration', env: { TASKER_CONFIG_PATH: path } }))).toContain(
      'context: the file was made for the worker context; the orchestration needs one made with `tasker-ctl config generate --context orchestration`',
    );
    expect(await problemsOf(loadConfig({ context: 'worker', env: { TASKER_CONFIG_PATH: path, TASKER_ENV: 'test' } }))).toContain(
      'environment: the file was made for production, but TASKER_ENV=test',
    );
  });

  it('names a file that does not exist', async () => {
    expect(await problemsOf(loadConfig({ context: 'worker', env: { TASKER_CONFIG_PATH: '/nonexistent/worker.toml' } }))).toMatch(
      /^\/nonexistent\/worker\.toml: cannot read the file: ENOENT/,
    );
  });
});

describe('the repository tree', () => {
  it('states in base/ exactly the built-in defaults', async () => {
    tree = await tempTree(); // an empty tree: built-in defaults only
    for (const context of ['worker', 'orchestration'] as const) {
      const builtIn = await loadConfig({ context, environment: 'development', root: tree.root, env: {} });
      const base = await loadConfig({ context, environment: 'development', root: REPO_TREE, env: {} });
      expect(base[context]).toEqual(builtIn[context]);
      expect(base.common).toEqual(builtIn.common);
      // Every key with a fixed default is written out in base/, so the file documents it.
      const unstated = Object.entries(base.sources).filter(
        ([key, source]) => source === 'default' && CONFIG_KEYS.find((spec) => spec.key === key)?.default !== undefined,
      );
      expect(unstated.filter(([key]) => key.startsWith(`${context}.`) || key.startsWith('common.'))).toEqual([]);
    }
  });

  it('loads for every context and environment', async () => {
    for (const environment of ['test', 'development'] as const) {
      for (const context of ['worker', 'orchestration'] as const) {
        const config = await loadConfig({ context, environment, root: REPO_TREE, env: {} });
        expect(config.files).toHaveLength(4);
      }
    }
  });

  it('logs JSON in production and readable lines elsewhere', async () => {
    tree = await tempTree();
    expect((await loadConfig({ context: 'worker', environment: 'test', root: tree.root, env: {} })).common.log.format).toBe('pretty');
    const path = await tree.write('p.toml', 'environment = "production"\n');
    expect((await loadConfig({ context: 'worker', env: { TASKER_CONFIG_PATH: path } })).common.log.format).toBe('json');
  });

  it('names the same bindings as the binding loader', () => {
    expect([...BINDINGS]).toEqual([...BINDING_NAMES]);
  });
});
