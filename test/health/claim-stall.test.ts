/**
 * Readiness on a claim loop that really stalls: another session holds
 * `LOCK TABLE tasker.namespaces IN ACCESS EXCLUSIVE MODE`, which every tasker.claim_steps call
 * needs (it checks the namespace first), so the worker core's claim round trip hangs. The
 * worker's own loop keeps turning (next() returns empty-handed after its wait), so only the
 * core's round trips can show the stall. With a 1.5 s limit the worker must report not ready
 * over REST and the standard gRPC health protocol while the lock is held, stay alive, and be
 * ready again once the lock is released. For the pg binding and the napi addon. Real PostgreSQL.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BindingName } from '../../sdk/src/binding/types.ts';
import { defineHandler } from '../../sdk/src/handler/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { Worker } from '../../sdk/src/worker/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';
import { eventually, get, ServingStatus, StandardHealthClient } from './clients.ts';

const NS = 'health_stall';
const STALL_MS = 1_500;

let db: TestDatabase;
let locker: pg.Client | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, template('t', [{ name: 'only', handler: 'stall.echo' }], NS));
});

afterAll(async () => {
  await locker?.end().catch(() => {});
  await db?.drop();
});

interface ClaimLoopCheck {
  name: string;
  ok: boolean;
  message: string;
}

async function claimLoop(port: number): Promise<{ status: number; check: ClaimLoopCheck | undefined }> {
  const response = await get(port, '/health/ready');
  const checks = response.json()['checks'] as ClaimLoopCheck[];
  return { status: response.status, check: checks.find((check) => check.name === 'claim_loop') };
}

async function standardStatus(port: number): Promise<ServingStatus> {
  const standard = new StandardHealthClient(port);
  try {
    return await standard.check('');
  } finally {
    standard.close();
  }
}

describe.each<BindingName>(['pg', 'napi'])('a claim blocked on a lock (%s binding)', (binding) => {
  it('makes the worker unready after the stall limit, and ready again when the lock is released', { timeout: 60_000 }, async () => {
    const worker = new Worker({
      databaseUrl: db.url,
      namespaces: [NS],
      handlers: [defineHandler('stall.echo', () => 'echo')],
      binding,
      handleSignals: false,
      logWriter: () => {},
      core: { pollIntervalMs: 100 },
      web: { host: '127.0.0.1', port: 0 },
      grpc: { host: '127.0.0.1', port: 0 },
      health: { claimStallMs: STALL_MS },
    });
    await worker.start();
    try {
      const web = worker.servers.web?.port ?? 0;
      const grpc = worker.servers.grpc?.port ?? 0;
      await eventually('the worker to be ready', async () => (await claimLoop(web)).status === 200);
      const tripsBefore = worker.stats().core?.claimRoundTrips ?? 0;

      locker = new pg.Client({ connectionString: db.url, application_name: 'claim-stall-test-lock' });
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE tasker.namespaces IN ACCESS EXCLUSIVE MODE');
      const lockedAt = performance.now();
      // The claim really waits on the lock: its session shows up waiting in pg_stat_activity.
      await eventually('a claim to wait on the lock', async () => {
        const { rows } = await db.pool.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%claim_steps%'`,
        );
        return (rows[0]?.waiting ?? 0) > 0;
      });

      await eventually('readiness to be lost', async () => (await claimLoop(web)).status === 503, 15_000);
      // Not before the limit: a claim waiting less than that is not a stall. The limit runs from
      // the core's last round trip, which may precede the lock by up to a poll interval.
      expect(performance.now() - lockedAt).toBeGreaterThanOrEqual(STALL_MS - 200);
      const stalled = await claimLoop(web);
      expect(stalled.check).toMatchObject({ ok: false, message: expect.stringMatching(/^stalled: no claim round trip to the database for /) });
      expect((await get(web, '/health')).status).toBe(200);
      expect(await standardStatus(grpc)).toBe(ServingStatus.NOT_SERVING);
      // The worker's own loop kept turning meanwhile: the old rule alone would have said ready.
      expect(worker.stats().state).toBe('running');

      await locker.query('ROLLBACK');
      await locker.end();
      locker = undefined;
      await eventually('readiness to return', async () => (await claimLoop(web)).status === 200, 15_000);
      expect(await standardStatus(grpc)).toBe(ServingStatus.SERVING);
      expect(worker.stats().core?.claimRoundTrips ?? 0).toBeGreaterThan(tripsBefore);
    } finally {
      await locker?.query('ROLLBACK').catch(() => {});
      await locker?.end().catch(() => {});
      locker = undefined;
      await worker.stop(0);
    }
  });
});
