/**
 * Settings from a loaded config take effect: the concurrency a worker keeps to, the deployment
 * mode its core runs (PollingOnly opens no LISTEN connection yet still gets the work), the binding
 * it loads, its id and shutdown grace, and the orchestrator's migration settings and sweep
 * interval. Real PostgreSQL, real workers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TaskerClient } from '../../sdk/src/client/index.ts';
import { loadConfig, type TaskerConfig } from '../../sdk/src/config/index.ts';
import { defineHandler, type HandlerDefinition, type LogRecord } from '../../sdk/src/handler/index.ts';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { Worker } from '../../sdk/src/worker/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { sleep } from '../support/queue.ts';
import { template } from '../support/templates.ts';
import { tempTree, type TempTree } from './tree.ts';

let db: TestDatabase;
let client: TaskerClient;
let tree: TempTree;
const workers: Worker[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  client = new TaskerClient({ databaseUrl: db.url });
  // The tree a deployment would have: a base, and a test environment that changes a few keys.
  tree = await tempTree({
    'base/worker.toml': '[worker]\nconcurrency = 10\nbinding = "napi"\n',
    // Servers on any free port, as in the repository's test environment: workers of this file
    // and of other files run side by side.
    'environments/test/worker.toml':
      '[worker]\nconcurrency = 2\nbinding = "pg"\npoll_interval_ms = 50\n\n[worker.web]\nport = 0\n\n[worker.grpc]\nport = 0\n',
    'environments/test/orchestration.toml': '[orchestration.web]\nport = 0\n\n[orchestration.grpc]\nport = 0\n',
  });
});

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(workers.splice(0).map((worker) => worker.stop(0)));
});

afterAll(async () => {
  await client.close();
  await db.drop();
  await tree.remove();
});

function load(env: Record<string, string> = {}): Promise<TaskerConfig> {
  return loadConfig({ context: 'worker', environment: 'test', root: tree.root, env: { DATABASE_URL: db.url, ...env } });
}

/** Registers a one-step template in `namespace` (so claims find it), then starts a worker on it. */
async function start(config: TaskerConfig, handler: HandlerDefinition, namespace: string): Promise<{ worker: Worker; logs: LogRecord[] }> {
  await registerTemplate(db.pool, template('t', [{ name: 's', handler: handler.name, retry: { max_attempts: 1 } }], namespace));
  const logs: LogRecord[] = [];
  const worker = Worker.fromConfig(config, { namespaces: [namespace], handlers: [handler], handleSignals: false, logWriter: (r) => logs.push(r) });
  workers.push(worker);
  await worker.start();
  return { worker, logs };
}

async function createTasks(namespace: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) ids.push((await client.createTask({ namespace, name: 't', context: { i } })).taskId);
  return ids;
}

async function waitAll(ids: readonly string[]): Promise<void> {
  for (const id of ids) expect((await client.waitForTask(id, { timeoutMs: 30_000 })).state).toBe('complete');
}

/** Sessions of `workerId`'s core that are LISTENing (the pg core names its connections after the worker). */
async function listenSessions(workerId: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = $1 AND query LIKE 'LISTEN %'`,
    [`tasker:${workerId}`],
  );
  return rows[0]?.n ?? 0;
}

describe('a worker from config', () => {
  it('never runs more handlers at once than worker.concurrency', async () => {
    let running = 0;
    let peak = 0;
    const busy = defineHandler('cfg.busy', async () => {
      running += 1;
      peak = Math.max(peak, running);
      await sleep(250);
      running -= 1;
      return { peak };
    });
    const config = await load();
    expect(config.worker.concurrency).toBe(2);
    const { worker } = await start(config, busy, 'cfg_conc');
    expect(worker.options.concurrency).toBe(2);
    await waitAll(await createTasks('cfg_conc', 6));
    // 6 tasks of 250 ms each: with the default (10) all six would run together.
    expect(peak).toBe(2);
  });

  it('lets an environment variable beat the files', async () => {
    const config = await load({ TASKER_WORKER_CONCURRENCY: '3' });
    const { worker } = await start(config, defineHandler('cfg.noop', () => 1), 'cfg_env');
    expect(worker.options.concurrency).toBe(3);
  });

  it('runs PollingOnly without any LISTEN connection, and still gets the work', async () => {
    const config = await load({ TASKER_WORKER_DEPLOYMENT_MODE: 'PollingOnly', WORKER_ID: 'cfg-polling-worker' });
    const { worker, logs } = await start(config, defineHandler('cfg.poll', () => 'polled'), 'cfg_poll');
    expect(worker.workerId).toBe('cfg-polling-worker');
    expect(worker.options.mode).toBe('PollingOnly');
    expect(logs.find((r) => r.message === 'worker started')?.fields).toMatchObject({ mode: 'PollingOnly', binding: 'pg' });
    await waitAll(await createTasks('cfg_poll', 2));
    expect(await listenSessions('cfg-polling-worker')).toBe(0);
  });

  it('in Hybrid (the control) does hold a LISTEN connection', async () => {
    const config = await load({ WORKER_ID: 'cfg-hybrid-worker' });
    await start(config, defineHandler('cfg.hybrid', () => 'heard'), 'cfg_hybrid');
    await expect.poll(() => listenSessions('cfg-hybrid-worker'), { timeout: 10_000 }).toBe(1);
  });

  it('loads the binding the config names', async () => {
    const pg = await start(await load(), defineHandler('cfg.b1', () => 1), 'cfg_bind_pg');
    expect(pg.worker.stats().binding).toBe('pg');
    const napi = await start(await load({ TASKER_BINDING: 'napi' }), defineHandler('cfg.b2', () => 1), 'cfg_bind_napi');
    expect(napi.worker.stats().binding).toBe('napi');
  });

  it('keeps to worker.shutdown_grace_ms when stopping', async () => {
    const stubborn = defineHandler('cfg.stubborn', async () => {
      await sleep(8_000);
      return 'too late';
    });
    const config = await load({ TASKER_WORKER_SHUTDOWN_GRACE_MS: '200' });
    const { worker } = await start(config, stubborn, 'cfg_grace');
    await createTasks('cfg_grace', 1);
    await expect.poll(() => worker.stats().running, { timeout: 10_000 }).toBe(1);
    const stopping = Date.now();
    const result = await worker.stop();
    expect(result.aborted).toBe(1);
    // The default grace (30 s) would have waited for the handler's 8 s.
    expect(Date.now() - stopping).toBeLessThan(5_000);
  });

  it('takes namespaces and the database from the config when the options leave them out', async () => {
    const config = await load({ TASKER_WORKER_NAMESPACES: 'cfg_ns_a,cfg_ns_b' });
    const worker = Worker.fromConfig(config, { handlers: [defineHandler('cfg.ns', () => 1)], handleSignals: false });
    expect(worker.options.namespaces).toEqual(['cfg_ns_a', 'cfg_ns_b']);
    expect(worker.options.databaseUrl).toBe(db.url);
  });

  it('writes its log lines in the config\'s format', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => lines.push(String(line)));
    const config = await load({ TASKER_LOG_FORMAT: 'json', TASKER_LOG_LEVEL: 'info' });
    await registerTemplate(db.pool, template('t', [{ name: 's', handler: 'cfg.log' }], 'cfg_log'));
    const worker = Worker.fromConfig(config, { namespaces: ['cfg_log'], handlers: [defineHandler('cfg.log', () => 1)], handleSignals: false });
    await worker.start();
    await worker.stop(0);
    const started = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line['message'] === 'worker started');
    expect(started).toMatchObject({ level: 'info', concurrency: 2, binding: 'pg', namespaces: ['cfg_log'] });
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>).some((line) => line['message'] === 'worker stopped')).toBe(true);
  });
});

describe('an orchestrator from config', () => {
  async function orchestration(env: Record<string, string>): Promise<TaskerConfig> {
    return loadConfig({ context: 'orchestration', environment: 'test', root: tree.root, env: { DATABASE_URL: db.url, ...env } });
  }

  it('migrates as orchestration.migrations says', async () => {
    const logs: LogRecord[] = [];
    const config = await orchestration({ DEPLOYMENT_MODE: 'migrate-only', DB_MIGRATION_TIMEOUT: '77', DB_MIGRATION_RETRIES: '1' });
    const started = await Orchestrator.fromConfig(config, { logWriter: (r) => logs.push(r), handleSignals: false }).start();
    expect(started.serving).toBe(false);
    expect(logs.map((r) => r.message).join('\n')).toMatch(/mode migrate-only, timeout 77 s, retries 1/);
  });

  it('sweeps every orchestration.sweep_interval_ms', async () => {
    const config = await orchestration({ DEPLOYMENT_MODE: 'no-migrate', TASKER_ORCHESTRATION_SWEEP_INTERVAL_MS: '50' });
    const orchestrator = Orchestrator.fromConfig(config, { logWriter: () => {}, handleSignals: false });
    await orchestrator.start();
    try {
      await sleep(1_000);
      // At the default 1000 ms there would be one or two passes by now.
      expect(orchestrator.stats().sweeps).toBeGreaterThanOrEqual(6);
    } finally {
      await orchestrator.stop();
    }
  });
});
