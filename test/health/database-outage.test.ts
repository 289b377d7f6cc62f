/**
 * Readiness follows the database: when the database stops taking connections (every session cut,
 * new ones refused: `ALLOW_CONNECTIONS false` plus pg_terminate_backend, which disturbs no other
 * test's database) a worker and an orchestrator report not ready over REST (503), over the
 * standard gRPC health protocol (NOT_SERVING) and in /metrics, while liveness holds; when it
 * comes back they are ready again on their own, and the worker runs work again.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskerClient } from '../../sdk/src/client/index.ts';
import { defineHandler } from '../../sdk/src/handler/index.ts';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { Worker } from '../../sdk/src/worker/index.ts';
import { createTestDatabase, injectedTestServer, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';
import { eventually, get, ServingStatus, StandardHealthClient } from './clients.ts';
import { parseExposition, valueOf } from './prometheus-text.ts';

const NS = 'health_outage';

let db: TestDatabase;
let admin: pg.Client;
let worker: Worker;
let orchestrator: Orchestrator;

/** Cuts every session of the test database and refuses new ones, or lets them in again. */
async function databaseUp(up: boolean): Promise<void> {
  await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} WITH ALLOW_CONNECTIONS ${up ? 'true' : 'false'}`);
  if (!up) await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]);
}

function ports(service: Worker | Orchestrator): { web: number; grpc: number } {
  const { web, grpc } = service.servers;
  if (web === null || grpc === null) throw new Error('the servers are not running');
  return { web: web.port, grpc: grpc.port };
}

beforeAll(async () => {
  db = await createTestDatabase();
  admin = new pg.Client({ connectionString: injectedTestServer().adminUrl });
  await admin.connect();
  await registerTemplate(db.pool, template('t', [{ name: 'only', handler: 'outage.echo' }], NS));
  const listeners = { web: { host: '127.0.0.1', port: 0 }, grpc: { host: '127.0.0.1', port: 0 } };
  const health = { databaseTimeoutMs: 1_000 };
  worker = new Worker({
    databaseUrl: db.url,
    namespaces: [NS],
    handlers: [defineHandler('outage.echo', () => 'echo')],
    handleSignals: false,
    logWriter: () => {},
    core: { pollIntervalMs: 100 },
    ...listeners,
    health,
  });
  await worker.start();
  orchestrator = new Orchestrator({ databaseUrl: db.url, deploymentMode: 'no-migrate', handleSignals: false, logWriter: () => {}, ...listeners, health });
  await orchestrator.start();
});

afterAll(async () => {
  await databaseUp(true).catch(() => {});
  await worker?.stop(0);
  await orchestrator?.stop();
  await admin?.end();
  await db?.drop();
});

describe('a database outage', () => {
  it('makes worker and orchestrator unready, and ready again when it returns', { timeout: 90_000 }, async () => {
    for (const service of [worker, orchestrator]) expect((await get(ports(service).web, '/health/ready')).status).toBe(200);

    await databaseUp(false);
    for (const service of [worker, orchestrator]) {
      const { web, grpc } = ports(service);
      await eventually('readiness to be lost', async () => (await get(web, '/health/ready')).status === 503);
      const checks = (await get(web, '/health/ready')).json()['checks'] as { name: string; ok: boolean; message: string }[];
      expect(checks.find((check) => check.name === 'database')).toMatchObject({ ok: false, message: expect.stringMatching(/^unreachable: /) });
      expect((await get(web, '/health')).status).toBe(200);
      const detailed = (await get(web, '/health/detailed')).json();
      expect(detailed).toMatchObject({ status: 'unhealthy', database: { reachable: false } });
      expect(JSON.stringify(detailed)).not.toContain(decodeURIComponent(new URL(db.url).password));
      const metrics = parseExposition((await get(web, '/metrics')).text);
      expect(valueOf(metrics, 'tasker_database_up')).toBe(0);
      expect(valueOf(metrics, 'tasker_ready')).toBe(0);
      const standard = new StandardHealthClient(grpc);
      try {
        expect(await standard.check('')).toBe(ServingStatus.NOT_SERVING);
        expect(await standard.check('liveness')).toBe(ServingStatus.SERVING);
      } finally {
        standard.close();
      }
    }

    await databaseUp(true);
    for (const service of [worker, orchestrator]) {
      const { web, grpc } = ports(service);
      await eventually('readiness to return', async () => (await get(web, '/health/ready')).status === 200, 30_000);
      const standard = new StandardHealthClient(grpc);
      try {
        expect(await standard.check('')).toBe(ServingStatus.SERVING);
      } finally {
        standard.close();
      }
    }
    // Ready means able to work: a task created now completes.
    const client = new TaskerClient({ databaseUrl: db.url });
    try {
      const { taskId } = await client.createTask({ namespace: NS, name: 't' });
      expect((await client.waitForTask(taskId, { timeoutMs: 30_000 })).state).toBe('complete');
    } finally {
      await client.close();
    }
  });
});
