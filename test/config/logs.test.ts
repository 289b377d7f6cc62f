/**
 * Logs: the config decides the format (JSON in production, readable lines in development) and the
 * level; every line the worker writes about a step carries the task, step and correlation ids;
 * passwords and tokens never reach the output, a DATABASE_URL inside an error message included.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TaskerClient } from '../../sdk/src/client/index.ts';
import { ConfigError, loadConfig, logWriterFromConfig, type TaskerConfig } from '../../sdk/src/config/index.ts';
import { defaultLogWriter, defineHandler, type LogRecord } from '../../sdk/src/handler/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { Worker } from '../../sdk/src/worker/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { sleep } from '../support/queue.ts';
import { template } from '../support/templates.ts';
import { tempTree, type TempTree } from './tree.ts';

const SECRET_URL = 'postgres://tasker:hunter2@db.internal:5432/tasker';
const record: LogRecord = {
  level: 'error',
  message: `cannot connect to ${SECRET_URL}`,
  time: '2026-01-01T00:00:00.000Z',
  fields: {
    error: new Error(`connect ECONNREFUSED (${SECRET_URL})`),
    token: 'tok-abc123',
    headers: { authorization: 'Bearer sk-live-999', accept: 'json' },
    databaseUrl: SECRET_URL,
    note: 'called with password=opensesame',
  },
};
const SECRETS = ['hunter2', 'tok-abc123', 'sk-live-999', 'opensesame'];

let tree: TempTree;
beforeAll(async () => {
  tree = await tempTree();
});
afterAll(async () => {
  await tree.remove();
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function configFor(environment: string, env: Record<string, string> = {}): Promise<TaskerConfig> {
  if (environment !== 'production') return loadConfig({ context: 'worker', environment, root: tree.root, env });
  const path = await tree.write('production-worker.toml', 'environment = "production"\ncontext = "worker"\n');
  return loadConfig({ context: 'worker', env: { TASKER_CONFIG_PATH: path, ...env } });
}

function written(config: TaskerConfig, records: readonly LogRecord[]): string[] {
  const lines: string[] = [];
  const write = logWriterFromConfig(config, (line) => lines.push(line));
  for (const r of records) write(r);
  return lines;
}

describe('format and level from the config', () => {
  it('writes one JSON object per line in production', async () => {
    const [line] = written(await configFor('production'), [record]);
    expect(JSON.parse(line ?? '')).toMatchObject({ level: 'error', time: record.time, token: '[REDACTED]' });
  });

  it('writes readable lines in development', async () => {
    const [line] = written(await configFor('development'), [record]);
    expect(line).toMatch(/^2026-01-01T00:00:00\.000Z ERROR cannot connect to postgres:\/\/tasker:\[REDACTED\]@db\.internal/);
  });

  it('drops records below common.log.level, and a variable can switch the format', async () => {
    const config = await configFor('development', { TASKER_LOG_LEVEL: 'error', TASKER_LOG_FORMAT: 'json' });
    const lines = written(config, [{ ...record, level: 'warn' }, record]);
    expect(lines).toHaveLength(1);
    expect(() => JSON.parse(lines[0] ?? '')).not.toThrow();
  });

  it('the default writer (no config) reads the same keys from the environment', () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => lines.push(String(line)));
    vi.stubEnv('TASKER_ENV', 'development');
    vi.stubEnv('TASKER_LOG_FORMAT', 'json');
    try {
      defaultLogWriter(record);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 'error' });
  });
});

describe('redaction', () => {
  it.each(['production', 'development'])('removes passwords and tokens in %s lines', async (environment) => {
    const [line] = written(await configFor(environment), [record]);
    for (const secret of SECRETS) expect(line).not.toContain(secret);
    expect(line).toContain('db.internal'); // the rest of the URL is still there to debug with
  });

  it('removes a password a configuration problem would repeat', async () => {
    const error = await loadConfig({ context: 'worker', root: tree.root, env: { TASKER_BINDING: SECRET_URL } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('got "postgres://tasker:[REDACTED]@db.internal:5432/tasker"');
    expect((error as Error).message).not.toContain('hunter2');
  });
});

describe("the worker's own lines about a step", () => {
  let db: TestDatabase;
  let client: TaskerClient;
  beforeAll(async () => {
    db = await createTestDatabase();
    client = new TaskerClient({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await client.close();
    await db.drop();
  });

  async function run(namespace: string, handler: ReturnType<typeof defineHandler>, options: { onStepFinished?: () => void; graceMs?: number }) {
    await registerTemplate(db.pool, template('t', [{ name: 'only', handler: handler.name, retry: { max_attempts: 1 } }], namespace));
    const lines: string[] = [];
    const config = await configFor('production', {
      DATABASE_URL: db.url,
      TASKER_BINDING: 'pg',
      TASKER_WORKER_POLL_INTERVAL_MS: '50',
      // The production defaults (8085, 9400) would collide with workers of other test files.
      TASKER_WORKER_WEB_PORT: '0',
      TASKER_WORKER_GRPC_PORT: '0',
    });
    const worker = Worker.fromConfig(config, {
      namespaces: [namespace],
      handlers: [handler],
      handleSignals: false,
      logWriter: logWriterFromConfig(config, (line) => lines.push(line)),
      ...(options.onStepFinished === undefined ? {} : { onStepFinished: options.onStepFinished }),
    });
    await worker.start();
    const { taskId } = await client.createTask({ namespace, name: 't', correlationId: `corr-${namespace}` });
    return { worker, taskId, lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
  }

  it('carry task, step and correlation ids, with secrets removed', async () => {
    const { worker, taskId, lines } = await run('logs_ids', defineHandler('logs.ids', (ctx) => {
      ctx.logger.info('handler speaking', { password: 'hunter2' });
      return 1;
    }), {
      onStepFinished: () => {
        throw new Error(`bookkeeping lost ${SECRET_URL}`);
      },
    });
    try {
      await client.waitForTask(taskId, { timeoutMs: 20_000 });
      await expect.poll(() => lines().some((line) => line['message'] === 'onStepFinished threw'), { timeout: 10_000 }).toBe(true);
    } finally {
      await worker.stop(0);
    }
    const ids = { taskId, stepName: 'only', correlationId: 'corr-logs_ids' };
    const threw = lines().find((line) => line['message'] === 'onStepFinished threw');
    expect(threw).toMatchObject({ ...ids, level: 'error', handler: 'logs.ids' });
    expect(threw?.['stepId']).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines().find((line) => line['message'] === 'handler speaking')).toMatchObject({ ...ids, password: '[REDACTED]' });
    expect(JSON.stringify(lines())).not.toContain('hunter2');
  });

  it('include one line per step aborted at shutdown, with its ids', async () => {
    const { worker, taskId, lines } = await run('logs_abort', defineHandler('logs.slow', async () => {
      await sleep(5_000);
      return 'late';
    }), {});
    await expect.poll(() => worker.stats().running, { timeout: 10_000 }).toBe(1);
    await worker.stop(100);
    expect(lines().find((line) => line['message'] === 'step aborted: grace period over; it will run again')).toMatchObject({
      taskId,
      stepName: 'only',
      correlationId: 'corr-logs_abort',
    });
  });
});
