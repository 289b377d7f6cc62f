/**
 * Cluster ports: instance i of a worker or orchestrator serves REST on its base port + i and gRPC
 * on its gRPC base port + i. The index comes from worker.instance_index /
 * orchestration.instance_index, both read from TASKER_INSTANCE_ID (0–9), with the usual
 * precedence (constructor option > variable > file > default 0); a bad one is an error naming
 * the key. Two services started as instances 0 and 1 really listen on consecutive ports.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigContext, type TaskerConfig } from '../../sdk/src/config/index.ts';
import { InvalidConfigError } from '../../sdk/src/errors.ts';
import { defineHandler } from '../../sdk/src/handler/index.ts';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { resolveListener } from '../../sdk/src/server/listener-settings.ts';
import { ServerListenError } from '../../sdk/src/server/index.ts';
import { Worker } from '../../sdk/src/worker/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';
import { get } from '../health/clients.ts';
import { tempTree, type TempTree } from './tree.ts';

const NS = 'instance_ports';

let db: TestDatabase;
let tree: TempTree;

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, template('t', [{ name: 's', handler: 'ip.h' }], NS));
  tree = await tempTree();
});

afterAll(async () => {
  await db.drop();
  await tree.remove();
});

function load(context: ConfigContext, env: Record<string, string>, root = tree.root): Promise<TaskerConfig> {
  return loadConfig({ context, environment: 'test', root, env: { DATABASE_URL: db.url, ...env } });
}

async function problem(context: ConfigContext, env: Record<string, string>): Promise<string> {
  const error = await load(context, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error.message;
}

/** Can `port` on 127.0.0.1 be bound right now? */
async function free(port: number): Promise<boolean> {
  const probe = net.createServer();
  const bound = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (bound) await new Promise((resolve) => probe.close(resolve));
  return bound;
}

/** A high base port with `count` free ports from it, for REST and (at base + 1000) gRPC. */
async function freeBase(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = 42_000 + Math.floor(Math.random() * 8_000);
    const ports = Array.from({ length: count }, (_, i) => [base + i, base + 1_000 + i]).flat();
    if ((await Promise.all(ports.map(free))).every(Boolean)) return base;
  }
  throw new Error('no free range of high ports found');
}

describe('the instance index', () => {
  it('comes from TASKER_INSTANCE_ID over the files, for either context, default 0', async () => {
    expect((await load('worker', {})).worker.instanceIndex).toBe(0);
    const fromEnv = await load('worker', { TASKER_INSTANCE_ID: '3' });
    expect(fromEnv.worker.instanceIndex).toBe(3);
    expect(fromEnv.sources['worker.instance_index']).toBe('TASKER_INSTANCE_ID');
    expect((await load('orchestration', { TASKER_INSTANCE_ID: '4' })).orchestration.instanceIndex).toBe(4);

    const files = await tempTree({
      'base/worker.toml': '[worker]\ninstance_index = 1\n',
      'environments/test/worker.toml': '[worker]\ninstance_index = 2\n',
    });
    try {
      const fromFile = await load('worker', {}, files.root);
      expect(fromFile.worker.instanceIndex).toBe(2);
      expect(fromFile.sources['worker.instance_index']).toMatch(/environments\/test\/worker\.toml$/);
      expect((await load('worker', { TASKER_INSTANCE_ID: '5' }, files.root)).worker.instanceIndex).toBe(5);
    } finally {
      await files.remove();
    }
  });

  it.each([
    ['worker', '10', 'worker.instance_index: must be a whole number from 0 to 9, got 10 (from TASKER_INSTANCE_ID)'],
    ['worker', 'abc', 'worker.instance_index: must be a whole number from 0 to 9, got "abc" (from TASKER_INSTANCE_ID)'],
    ['orchestration', '-1', 'orchestration.instance_index: must be a whole number from 0 to 9, got -1 (from TASKER_INSTANCE_ID)'],
  ] as const)('is refused naming the key (%s, TASKER_INSTANCE_ID=%s)', async (context, value, message) => {
    expect(await problem(context, { TASKER_INSTANCE_ID: value })).toBe(message);
  });

  it('must not push a port past 65535', async () => {
    expect(await problem('worker', { TASKER_INSTANCE_ID: '9', TASKER_WORKER_WEB_PORT: '65530' })).toBe(
      'worker.instance_index: instance 9 would serve on worker.web.port 65530 + 9 = 65539, above 65535: lower the base port or the index (from TASKER_INSTANCE_ID)',
    );
    // The orchestration section's ports do not matter to a worker.
    await expect(load('worker', { TASKER_INSTANCE_ID: '9', TASKER_ORCHESTRATION_WEB_PORT: '65530' })).resolves.toBeDefined();
  });

  it('adds to every base port but 0 (any free port), in one rule', () => {
    const config = { enabled: true, host: '127.0.0.1', port: 8085 };
    expect(resolveListener(undefined, config, 8085, 3)).toMatchObject({ port: 8088, basePort: 8085, instanceIndex: 3 });
    expect(resolveListener({ port: 0 }, config, 8085, 3)).toMatchObject({ port: 0 });
    expect(resolveListener({ port: 20_000 }, undefined, 8085, 2)?.port).toBe(20_002);
    expect(resolveListener({}, undefined, 9190, 1)?.port).toBe(9191);
  });

  it('as an option wins over the config, and is checked', async () => {
    const config = await load('worker', { TASKER_INSTANCE_ID: '3', TASKER_WORKER_WEB_PORT: '0', TASKER_WORKER_GRPC_PORT: '0' });
    const options = { namespaces: [NS], handlers: [defineHandler('ip.h', () => 1)], handleSignals: false, logWriter: () => {} };
    expect(() => Worker.fromConfig(config, { ...options, instanceIndex: 10 })).toThrow(InvalidConfigError);
    expect(() => Worker.fromConfig(config, { ...options, instanceIndex: 10 })).toThrow('instanceIndex="10" is invalid: expected a whole number from 0 to 9');
    expect(() => new Orchestrator({ databaseUrl: db.url, instanceIndex: 1.5 })).toThrow(InvalidConfigError);
  });
});

describe('instances 0 and 1', () => {
  it('serve the worker REST and gRPC servers on consecutive ports', { timeout: 60_000 }, async () => {
    const base = await freeBase(2);
    const workers: Worker[] = [];
    try {
      for (const index of [0, 1]) {
        const config = await load('worker', {
          TASKER_INSTANCE_ID: String(index),
          TASKER_BINDING: 'pg',
          WORKER_ID: `instance-${index}`,
          TASKER_WORKER_WEB_HOST: '127.0.0.1',
          TASKER_WORKER_WEB_PORT: String(base),
          TASKER_WORKER_GRPC_HOST: '127.0.0.1',
          TASKER_WORKER_GRPC_PORT: String(base + 1_000),
        });
        const worker = Worker.fromConfig(config, { namespaces: [NS], handlers: [defineHandler('ip.h', () => 1)], handleSignals: false, logWriter: () => {} });
        workers.push(worker);
        await worker.start();
      }
      expect(workers.map((worker) => worker.servers)).toEqual([
        { web: { host: '127.0.0.1', port: base }, grpc: { host: '127.0.0.1', port: base + 1_000 } },
        { web: { host: '127.0.0.1', port: base + 1 }, grpc: { host: '127.0.0.1', port: base + 1_001 } },
      ]);
      // Each port answers as its own instance.
      for (const [index, port] of [base, base + 1].entries()) {
        expect((await get(port, '/health')).json()).toMatchObject({ instanceId: `instance-${index}` });
      }
      for (const port of [base + 1_000, base + 1_001]) expect(await free(port)).toBe(false);

      // A third worker claiming instance 1 finds the port taken, and is told what it is made of.
      const clash = Worker.fromConfig(await load('worker', { TASKER_INSTANCE_ID: '1', TASKER_BINDING: 'pg', TASKER_WORKER_WEB_HOST: '127.0.0.1', TASKER_WORKER_WEB_PORT: String(base), TASKER_WORKER_GRPC_ENABLED: 'false' }), {
        namespaces: [NS],
        handlers: [defineHandler('ip.h', () => 1)],
        handleSignals: false,
        logWriter: () => {},
      });
      const error = await clash.start().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServerListenError);
      expect((error as Error).message).toContain(`set worker.web.port (TASKER_WORKER_WEB_PORT; base ${base} + instance index 1) to another port`);
    } finally {
      await Promise.all(workers.map((worker) => worker.stop(0)));
    }
  });

  it('serve the orchestration REST and gRPC servers on consecutive ports', { timeout: 60_000 }, async () => {
    const base = await freeBase(2);
    const orchestrators: Orchestrator[] = [];
    try {
      for (const index of [0, 1]) {
        const config = await load('orchestration', {
          TASKER_INSTANCE_ID: String(index),
          DEPLOYMENT_MODE: 'no-migrate',
          TASKER_ORCHESTRATION_WEB_HOST: '127.0.0.1',
          TASKER_ORCHESTRATION_WEB_PORT: String(base),
          TASKER_ORCHESTRATION_GRPC_HOST: '127.0.0.1',
          TASKER_ORCHESTRATION_GRPC_PORT: String(base + 1_000),
        });
        const orchestrator = Orchestrator.fromConfig(config, { instanceId: `orch-${index}`, handleSignals: false, logWriter: () => {} });
        orchestrators.push(orchestrator);
        await orchestrator.start();
      }
      expect(orchestrators.map((orchestrator) => orchestrator.servers)).toEqual([
        { web: { host: '127.0.0.1', port: base }, grpc: { host: '127.0.0.1', port: base + 1_000 } },
        { web: { host: '127.0.0.1', port: base + 1 }, grpc: { host: '127.0.0.1', port: base + 1_001 } },
      ]);
      for (const [index, port] of [base, base + 1].entries()) {
        expect((await get(port, '/health')).json()).toMatchObject({ instanceId: `orch-${index}` });
      }
      for (const port of [base + 1_000, base + 1_001]) expect(await free(port)).toBe(false);
    } finally {
      await Promise.all(orchestrators.map((orchestrator) => orchestrator.stop()));
    }
  });
});
