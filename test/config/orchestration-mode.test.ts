/**
 * orchestration.deployment_mode takes effect, against a real PostgreSQL:
 *
 * - EventDrivenOnly, with a poll interval of an hour, still fails a task promptly once its
 *   deadline passes, and dead-letters a poison step promptly once its lease expires (a claim
 *   nobody announced), yet does not sweep while nothing is due; it holds a LISTEN connection.
 * - PollingOnly sweeps on its interval only: a passed deadline waits for the next pass; it holds
 *   no LISTEN connection.
 * - Hybrid is event-driven too (a long interval does not delay a deadline), with the interval as
 *   a safety net.
 * - EventDrivenOnly hears of a namespace registered while it sleeps (tasker_namespace) and so of
 *   the deadlines of tasks created there.
 * - readDueTimes reads each due time right, starting from an empty database (nothing due).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskerClient } from '../../sdk/src/client/index.ts';
import { loadConfig } from '../../sdk/src/config/index.ts';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { readDueTimes, type DueTimes } from '../../sdk/src/orchestration/due-times.ts';
import { CLAIM_WATCH_MS, DUE_MARGIN_MS, IDLE_REFRESH_MS, nextWakeDelay, OVERDUE_RETRY_MS } from '../../sdk/src/orchestration/wake-plan.ts';
import { claimSteps, createTask, registerTemplate, reportStep } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { sleep } from '../support/queue.ts';
import { template } from '../support/templates.ts';
import { tempTree, type TempTree } from './tree.ts';

const NS = 'orch_mode';
const HOUR_MS = 3_600_000;

let db: TestDatabase;
let client: TaskerClient;
let tree: TempTree;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new TaskerClient({ databaseUrl: db.url });
  tree = await tempTree();
  // One step that a single lost lease ends (a poison step), so the lease sweep has work.
  await registerTemplate(db.pool, template('job', [{ name: 'only', handler: 'om.only', max_deliveries: 1 }], NS));
});

afterAll(async () => {
  await client.close();
  await db.drop();
  await tree.remove();
});

/** An orchestrator set up by a loaded config whose deployment mode and interval come from the environment. */
async function orchestrator(mode: string, intervalMs: number, databaseUrl = db.url): Promise<Orchestrator> {
  const config = await loadConfig({
    context: 'orchestration',
    environment: 'test',
    root: tree.root,
    env: {
      DATABASE_URL: databaseUrl,
      DEPLOYMENT_MODE: 'no-migrate',
      TASKER_ORCHESTRATION_DEPLOYMENT_MODE: mode,
      TASKER_ORCHESTRATION_SWEEP_INTERVAL_MS: String(intervalMs),
    },
  });
  const started = Orchestrator.fromConfig(config, { logWriter: () => {}, handleSignals: false, web: false, grpc: false });
  await started.start();
  return started;
}

async function listenSessions(): Promise<number> {
  const { rows } = await db.pool.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tasker-orchestrator-listen'`,
  );
  return rows[0]?.count ?? 0;
}

async function stateOf(taskId: string, using: TaskerClient = client): Promise<string | undefined> {
  return (await using.getTask(taskId))?.state;
}

/** Polls until `condition` holds (a pass counts once both its sweeps ended, after the task changed). */
async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * "Promptly" for a wake-up the tests expect from an event or a due time: far below the 1 h poll
 * interval they run with, yet loose enough for a loaded CI machine.
 */
const SOON_MS = 8_000;

/** Polls until the task leaves in_progress; returns when (performance.now()) it was seen so. */
async function finishedAt(taskId: string, timeoutMs: number, using: TaskerClient = client): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if ((await stateOf(taskId, using)) !== 'in_progress') return performance.now();
    await sleep(20);
  }
  throw new Error(`task ${taskId} was still in progress after ${timeoutMs} ms`);
}

describe('orchestration.deployment_mode', () => {
  it('EventDrivenOnly sweeps when a deadline or a lease falls due, not on the interval', { timeout: 60_000 }, async () => {
    const service = await orchestrator('EventDrivenOnly', HOUR_MS);
    try {
      expect(await listenSessions()).toBe(1);
      // Nothing is due: no sweep at start, none while idle.
      await sleep(1_000);
      expect(service.stats().sweeps).toBe(0);

      // A deadline: the task's creation is notified, the orchestrator reads the deadline and sleeps until it.
      const created = performance.now();
      const { taskId } = await client.createTask({ namespace: NS, name: 'job', timeoutMs: 1_200 });
      const sweptAt = await finishedAt(taskId, 15_000);
      expect(await stateOf(taskId)).toBe('error');
      // Not before the deadline; and long before the 1 h interval (the bound leaves room for a
      // loaded machine: what matters is that no interval had to pass).
      expect(sweptAt - created).toBeGreaterThanOrEqual(1_200);
      expect(sweptAt - created).toBeLessThan(SOON_MS);
      await until('the timeout to be counted', () => service.stats().timedOutTasks === 1);

      // A lease: claimed by a "worker" that then disappears. No notification announces a claim;
      // the orchestrator sees it because it looks again while claimable work waits.
      const poison = await client.createTask({ namespace: NS, name: 'job' });
      const claim = await claimSteps(db.pool, { namespace: NS, batchSize: 1, leaseSeconds: 1, workerId: 'vanished' });
      expect(claim.claimed).toHaveLength(1);
      const claimedAt = performance.now();
      const deadLetteredAt = await finishedAt(poison.taskId, 15_000);
      expect(await stateOf(poison.taskId)).toBe('error');
      expect(deadLetteredAt - claimedAt).toBeGreaterThanOrEqual(900);
      expect(deadLetteredAt - claimedAt).toBeLessThan(SOON_MS);
      await until('the dead letter to be counted', () => service.stats().deadLettered === 1);

      // Nothing due any more: the sweeps stop again.
      await sleep(300);
      const sweeps = service.stats().sweeps;
      await sleep(1_500);
      expect(service.stats().sweeps).toBe(sweeps);
    } finally {
      await service.stop();
    }
    expect(await listenSessions()).toBe(0);
  });

  it('EventDrivenOnly hears of a namespace registered while it sleeps, and of the tasks created there', { timeout: 60_000 }, async () => {
    // A database with no namespace at all, so nothing is due and the orchestrator sleeps for
    // its idle refresh (a minute) unless a notification wakes it.
    const fresh = await createTestDatabase();
    const freshClient = new TaskerClient({ databaseUrl: fresh.url });
    const service = await orchestrator('EventDrivenOnly', HOUR_MS, fresh.url);
    try {
      await sleep(500);
      expect(service.stats().sweeps).toBe(0);
      await registerTemplate(fresh.pool, template('job', [{ name: 'only', handler: 'om.only' }], 'orch_late'));
      const created = performance.now();
      const { taskId } = await freshClient.createTask({ namespace: 'orch_late', name: 'job', timeoutMs: 1_200 });
      const sweptAt = await finishedAt(taskId, 15_000, freshClient);
      expect(await stateOf(taskId, freshClient)).toBe('error');
      expect(sweptAt - created).toBeGreaterThanOrEqual(1_200);
      expect(sweptAt - created).toBeLessThan(SOON_MS);
    } finally {
      await service.stop();
      await freshClient.close();
      await fresh.drop();
    }
  });

  it('PollingOnly sweeps on its interval only, without a LISTEN connection', { timeout: 60_000 }, async () => {
    const intervalMs = 3_000;
    const service = await orchestrator('PollingOnly', intervalMs);
    try {
      // The first pass runs at start; the next one interval later.
      while (service.stats().sweeps === 0) await sleep(10);
      const firstPass = performance.now();
      expect(await listenSessions()).toBe(0);
      const { taskId } = await client.createTask({ namespace: NS, name: 'job', timeoutMs: 200 });
      await sleep(1_500);
      // The deadline passed over a second ago, but no pass has run since.
      expect(await stateOf(taskId)).toBe('in_progress');
      const sweptAt = await finishedAt(taskId, intervalMs + 10_000);
      expect(await stateOf(taskId)).toBe('error');
      expect(sweptAt - firstPass).toBeGreaterThanOrEqual(intervalMs - 50);
      // The task is failed as the pass commits its first sweep; the pass counts when both ended.
      await sleep(200);
      expect(service.stats().sweeps).toBe(2);
    } finally {
      await service.stop();
    }
  });

  it('Hybrid sweeps a deadline when it falls due, and on its interval too', { timeout: 60_000 }, async () => {
    const slow = await orchestrator('Hybrid', HOUR_MS);
    try {
      expect(await listenSessions()).toBe(1);
      const created = performance.now();
      const { taskId } = await client.createTask({ namespace: NS, name: 'job', timeoutMs: 500 });
      const sweptAt = await finishedAt(taskId, 15_000);
      expect(sweptAt - created).toBeLessThan(SOON_MS);
      expect(await stateOf(taskId)).toBe('error');
    } finally {
      await slow.stop();
    }
    // The safety net: passes on the interval even with nothing due.
    const fast = await orchestrator('Hybrid', 100);
    try {
      // Several passes with nothing due (the 1 h orchestrator above made one, at its start).
      await until('three passes on the 100 ms interval', () => fast.stats().sweeps >= 3);
    } finally {
      await fast.stop();
    }
  });
});

describe('readDueTimes', () => {
  it('reads nothing due in an empty database, and each kind of due time as it appears', async () => {
    const fresh = await createTestDatabase();
    try {
      expect(await readDueTimes(fresh.pool)).toEqual({
        sweepable: false, leaseInMs: null, deadlineInMs: null, claimableInMs: null, namespaces: [],
      });
      await registerTemplate(fresh.pool, template('job', [{ name: 'only', handler: 'om.only' }], 'due_ns'));
      expect((await readDueTimes(fresh.pool)).namespaces).toEqual(['due_ns']);

      // Enqueued: claimable now.
      await createTask(fresh.pool, { namespace: 'due_ns', name: 'job' });
      expect(await readDueTimes(fresh.pool)).toMatchObject({ claimableInMs: 0, leaseInMs: null });

      // Claimed: a lease runs out later; nothing is claimable.
      const [step] = (await claimSteps(fresh.pool, { namespace: 'due_ns', batchSize: 1, leaseSeconds: 30, workerId: 'w' })).claimed;
      const leased = await readDueTimes(fresh.pool);
      expect(leased.claimableInMs).toBeNull();
      expect(leased.leaseInMs).toBeGreaterThan(25_000);
      expect(leased.leaseInMs).toBeLessThanOrEqual(30_000);

      // A retry in 20 s: claimable then, not now.
      await reportStep(fresh.pool, {
        stepId: step!.stepId, attempt: step!.attempt, delivery: step!.delivery,
        outcome: 'retryable_failure', error: { message: 'later' }, retryAfterMs: 20_000,
      });
      const waiting = await readDueTimes(fresh.pool);
      expect(waiting.leaseInMs).toBeNull();
      expect(waiting.claimableInMs).toBeGreaterThan(15_000);
      expect(waiting.claimableInMs).toBeLessThanOrEqual(20_000);
      expect(waiting.sweepable).toBe(false);
    } finally {
      await fresh.drop();
    }
  });
});

describe('the event-driven wake-up', () => {
  const idle: DueTimes = { sweepable: false, leaseInMs: null, deadlineInMs: null, claimableInMs: null, namespaces: [] };

  it('sleeps until the earliest lease or deadline, capped by the poll interval (Hybrid) or the idle refresh', () => {
    expect(nextWakeDelay(idle, undefined)).toBe(IDLE_REFRESH_MS);
    expect(nextWakeDelay(idle, 1_000)).toBe(1_000);
    expect(nextWakeDelay({ ...idle, leaseInMs: 5_000, deadlineInMs: 2_000 }, undefined)).toBe(2_000 + DUE_MARGIN_MS);
    expect(nextWakeDelay({ ...idle, leaseInMs: 300.2, deadlineInMs: 2_000 }, 1_000)).toBe(Math.ceil(300.2 + DUE_MARGIN_MS));
    expect(nextWakeDelay({ ...idle, deadlineInMs: 2_000 }, 1_000)).toBe(1_000);
  });

  it('looks again within the shortest lease while work waits unclaimed, and soon when a sweep left work behind', () => {
    expect(nextWakeDelay({ ...idle, claimableInMs: 0 }, undefined)).toBe(CLAIM_WATCH_MS);
    // A retry due in 4 s can be claimed from then on.
    expect(nextWakeDelay({ ...idle, claimableInMs: 4_000 }, undefined)).toBe(4_000 + CLAIM_WATCH_MS);
    expect(nextWakeDelay({ ...idle, sweepable: true, leaseInMs: 10_000 }, undefined)).toBe(OVERDUE_RETRY_MS);
  });
});
