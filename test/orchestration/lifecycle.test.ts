/**
 * The Orchestrator's start and stop called in any order: a stop() while start() is still
 * migrating or registering templates waits for it and then stops everything start() opened, so
 * nothing keeps sweeping (or holds connections) after stop() resolved; a start() after stop(), or
 * a second start(), is refused.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;

beforeEach(async () => {
  db = await createTestDatabase();
});

afterEach(async () => {
  await db.drop();
});

/** Sessions the orchestrator opened in the test database (its pool and its LISTEN connection). */
async function orchestratorSessions(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'tasker-orchestrator%'",
  );
  return rows[0]?.n ?? 0;
}

function orchestrator(): Orchestrator {
  return new Orchestrator({ databaseUrl: db.url, deploymentMode: 'standard', handleSignals: false, logWriter: () => {}, sweepIntervalMs: 50 });
}

it('a stop() during start() waits for it, then closes what it opened', async () => {
  const subject = orchestrator();
  const starting = subject.start();
  await subject.stop();
  const started = await starting;
  expect(started.serving).toBe(true);
  expect(subject.state()).toBe('stopped');
  // Sessions end asynchronously on the server side once their clients disconnect.
  const deadline = Date.now() + 5_000;
  while ((await orchestratorSessions()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(await orchestratorSessions()).toBe(0);
  const sweeps = subject.stats().sweeps;
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(subject.stats().sweeps).toBe(sweeps);
});

it('refuses a second start() and a start() after stop()', async () => {
  const twice = orchestrator();
  const first = twice.start();
  await expect(twice.start()).rejects.toThrow(/already/);
  await first;
  await twice.stop();

  const late = orchestrator();
  await late.stop();
  await expect(late.start()).rejects.toThrow(/stopped/);
  expect(await orchestratorSessions()).toBe(0);
});
