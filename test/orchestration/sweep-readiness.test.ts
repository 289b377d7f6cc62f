/**
 * An orchestrator whose sweeps keep failing says so in its readiness, even while its database
 * answers: expired leases and task deadlines are its job. The failure here is real: the sweep's
 * SQL function is renamed away in the test's own database, then put back.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { SWEEP_FAILURES_NOT_READY } from '../../sdk/src/server/readiness.ts';
import { eventually, get } from '../health/clients.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
let orchestrator: Orchestrator;

beforeAll(async () => {
  db = await createTestDatabase();
  orchestrator = new Orchestrator({
    databaseUrl: db.url,
    deploymentMode: 'no-migrate',
    mode: 'PollingOnly',
    sweepIntervalMs: 50,
    handleSignals: false,
    logWriter: () => {},
    web: { host: '127.0.0.1', port: 0 },
  });
  await orchestrator.start();
});

afterAll(async () => {
  await orchestrator?.stop();
  await db?.drop();
});

interface Readiness {
  status: number;
  sweeps: { ok: boolean; message: string } | undefined;
}

async function readiness(): Promise<Readiness> {
  const port = orchestrator.servers.web?.port;
  if (port === undefined) throw new Error('the orchestrator has no REST server');
  const answer = await get(port, '/health/ready');
  const checks = answer.json()['checks'] as { name: string; ok: boolean; message: string }[];
  return { status: answer.status, sweeps: checks.find((check) => check.name === 'sweeps') };
}

it('is not ready after its sweeps failed several times in a row, and ready again once one succeeds', async () => {
  await eventually('ready', async () => (await readiness()).status === 200);
  expect((await readiness()).sweeps).toEqual({ name: 'sweeps', ok: true, message: 'sweeping' });

  await db.pool.query('ALTER FUNCTION tasker.sweep_expired_leases(int, text) RENAME TO sweep_expired_leases_away');
  try {
    await eventually('not ready', async () => (await readiness()).status === 503);
    const broken = await readiness();
    expect(broken.sweeps?.ok).toBe(false);
    expect(broken.sweeps?.message).toMatch(/^the last \d+ sweep passes failed: .*sweep_expired_leases.* does not exist/);
    expect(orchestrator.stats().consecutiveSweepErrors).toBeGreaterThanOrEqual(SWEEP_FAILURES_NOT_READY);
  } finally {
    await db.pool.query('ALTER FUNCTION tasker.sweep_expired_leases_away(int, text) RENAME TO sweep_expired_leases');
  }
  await eventually('ready again', async () => (await readiness()).status === 200);
  expect(orchestrator.stats().consecutiveSweepErrors).toBe(0);
  expect(orchestrator.stats().sweepErrors).toBeGreaterThanOrEqual(SWEEP_FAILURES_NOT_READY);
});
