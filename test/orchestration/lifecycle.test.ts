/**
 * The Orchestrator's start and stop called in any order: a stop() while start() is still
 * migrating or registering templates waits for it and then stops everything start() opened, so
 * nothing keeps sweeping (or holds connections) after stop() resolved; a start() after stop(), or
 * a second start(), is refused; and settings that could not work are refused by the constructor,
 * before anything is migrated or opened.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { InvalidConfigError } from '../../sdk/src/errors.ts';
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

it('refuses a server port out of range and a sweep interval beyond the config range, before touching the database', () => {
  const base = { databaseUrl: db.url, handleSignals: false, logWriter: () => {} };
  expect(() => new Orchestrator({ ...base, web: { host: '127.0.0.1', port: 70_000 } })).toThrow(InvalidConfigError);
  expect(() => new Orchestrator({ ...base, grpc: { port: 65_535 }, instanceIndex: 3 })).toThrow(/65535 \+ instance 3 = 65538/);
  // Past setTimeout's limit (2^31 - 1 ms) the scheduler would sweep every millisecond.
  expect(() => new Orchestrator({ ...base, sweepIntervalMs: 2 ** 31 })).toThrow(InvalidConfigError);
  expect(() => new Orchestrator({ ...base, sweepIntervalMs: 3_600_001 })).toThrow(/from 10 to 3600000 ms/);
  expect(() => new Orchestrator({ ...base, sweepIntervalMs: 3_600_000 })).not.toThrow();
});
