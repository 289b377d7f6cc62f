/**
 * `config generate`: the merged file loads back (through TASKER_CONFIG_PATH) to the same
 * configuration the tree gives, never holds the database URL, and leaves computed defaults
 * computed so environment variables can still move them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { ConfigError, generateConfig, loadConfig, type ConfigContext } from '../../sdk/src/config/index.ts';
import { REPO_TREE, tempTree, type TempTree } from './tree.ts';

let tree: TempTree | undefined;
afterEach(async () => {
  await tree?.remove();
  tree = undefined;
});

const CASES = (['worker', 'orchestration'] as const).flatMap((context) =>
  (['test', 'development', 'production'] as const).map((environment) => [context, environment] as const),
);

describe('generate → load round trip', () => {
  it.each(CASES)('%s / %s', async (context: ConfigContext, environment) => {
    const { text, config: fromTree } = await generateConfig({ context, environment, root: REPO_TREE });
    tree = await tempTree();
    const path = await tree.write(`${context}.toml`, text);
    const loaded = await loadConfig({ context, env: { TASKER_CONFIG_PATH: path, TASKER_ENV: environment } });
    expect(loaded.environment).toBe(environment);
    expect(loaded.common).toEqual(fromTree.common);
    expect(loaded[context]).toEqual(fromTree[context]);
    expect(loaded.files).toEqual([path]);
  });

  it('writes the environment and context it was made for, and only that context', async () => {
    const { text } = await generateConfig({ context: 'worker', environment: 'production', root: REPO_TREE });
    const document = parse(text);
    expect(document).toMatchObject({ environment: 'production', context: 'worker', common: { log: { format: 'json' } } });
    expect(Object.keys(document).sort()).toEqual(['common', 'context', 'environment', 'worker']);
  });

  it('is the same every time (no timestamp), so rebuilt images are identical', async () => {
    const first = await generateConfig({ context: 'orchestration', environment: 'production', root: REPO_TREE });
    const second = await generateConfig({ context: 'orchestration', environment: 'production', root: REPO_TREE });
    expect(second.text).toBe(first.text);
  });
});

describe('what generate leaves out', () => {
  it('never writes DATABASE_URL or other environment variables', async () => {
    const env = { DATABASE_URL: 'postgres://tasker:hunter2@db:5432/tasker', TASKER_WORKER_CONCURRENCY: '77' };
    const { text, config } = await generateConfig({ context: 'worker', environment: 'test', root: REPO_TREE, env });
    expect(text).not.toContain('hunter2');
    expect(text).not.toMatch(/^url\s*=/m);
    expect(text).toMatch(/^concurrency = 10$/m);
    expect(config.common.database.url).toBeUndefined();
  });

  it('keeps computed defaults computed: the merged file follows a later mode switch', async () => {
    const { text } = await generateConfig({ context: 'worker', environment: 'production', root: REPO_TREE });
    expect(text).toMatch(/^# poll_interval_ms = 1000$/m);
    tree = await tempTree();
    const path = await tree.write('worker.toml', text);
    const polling = await loadConfig({ context: 'worker', env: { TASKER_CONFIG_PATH: path, TASKER_WORKER_DEPLOYMENT_MODE: 'PollingOnly' } });
    expect(polling.worker.pollIntervalMs).toBe(100);
  });

  it('writes a computed key that a file set', async () => {
    tree = await tempTree({ 'base/worker.toml': '[worker]\npoll_interval_ms = 250\n' });
    const { text } = await generateConfig({ context: 'worker', environment: 'test', root: tree.root });
    expect(text).toMatch(/^poll_interval_ms = 250$/m);
  });
});

describe('generate validates first', () => {
  it('refuses a tree with problems, listing them', async () => {
    tree = await tempTree({ 'environments/production/worker.toml': '[worker]\nconcurency = 2\nbinding = "wasm"\n' });
    const error = await generateConfig({ context: 'worker', environment: 'production', root: tree.root }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.key)).toEqual(['worker.concurency', 'worker.binding']);
  });

  it('needs no TASKER_CONFIG_PATH for production (it makes one)', async () => {
    const generated = await generateConfig({ context: 'worker', environment: 'production', root: REPO_TREE, env: { TASKER_ENV: 'production' } });
    expect(generated.config.environment).toBe('production');
  });
});
