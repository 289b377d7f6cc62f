/**
 * The LISTEN connections that reopen themselves (sdk/src/db/listen-connection.ts): the client's,
 * which wakes waitForTask, and the orchestrator's wake listener. Each test kills the connection
 * with pg_terminate_backend, lets what it waits for happen while it is down (the notification is
 * lost), and checks the waiter still learns of it once the connection is back.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TaskerClient } from '../../sdk/src/client/index.ts';
import { WakeListener } from '../../sdk/src/orchestration/wake-listener.ts';
import { claimSteps, createTask, registerTemplate, reportStep } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { single } from '../support/templates.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, single('listen_ns'));
});

afterAll(async () => {
  await db?.drop();
});

/** Terminates the sessions of `applicationName` in the test database; returns how many. */
async function terminate(applicationName: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = $1`,
    [applicationName],
  );
  return rows[0]?.n ?? 0;
}

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sessions = async (applicationName: string): Promise<number> =>
  (
    await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
      [applicationName],
    )
  ).rows[0]?.n ?? 0;

/** Runs the task's one step to completion through the protocol, as a worker would. */
async function complete(): Promise<void> {
  const { claimed } = await claimSteps(db.pool, { namespace: 'listen_ns', batchSize: 1, leaseSeconds: 30, workerId: 'w' });
  const step = claimed[0];
  if (step === undefined) throw new Error('no step to claim');
  await reportStep(db.pool, { stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success', result: 1 });
}

it('waitForTask learns of a task that finished while its LISTEN connection was down', async () => {
  const client = new TaskerClient({ databaseUrl: db.url });
  try {
    const { taskId } = await createTask(db.pool, { namespace: 'listen_ns', name: 'single' });
    // No timeoutMs: waitForTask re-reads a task at its deadline, which would hide a waiter never woken.
    const stop = new AbortController();
    const waiting = client.waitForTask(taskId, { signal: stop.signal });
    await until('the client to listen', async () => (await sessions('tasker-client-listener')) === 1);
    expect(await terminate('tasker-client-listener')).toBe(1);
    // Finished while nobody listens: its notification is gone.
    await complete();
    const timer = setTimeout(() => stop.abort(new Error('waitForTask was not woken within 5 s of the reconnect')), 5_000);
    const task = await waiting.finally(() => clearTimeout(timer));
    expect(task.state).toBe('complete');
    // And the next wait is woken as usual. (Whether the connection came back before this depends
    // on timing: the dying session may still deliver the notification, and with nobody waiting
    // any more the client does not reconnect until someone does.)
    const next = await createTask(db.pool, { namespace: 'listen_ns', name: 'single' });
    const again = new AbortController();
    const waitingAgain = client.waitForTask(next.taskId, { signal: again.signal });
    await until('the client to listen again', async () => (await sessions('tasker-client-listener')) === 1);
    await complete();
    const againTimer = setTimeout(() => again.abort(new Error('the next waitForTask was not woken within 5 s')), 5_000);
    expect((await waitingAgain.finally(() => clearTimeout(againTimer))).state).toBe('complete');
  } finally {
    await client.close();
  }
});

it("the orchestrator's wake listener reopens itself and wakes the orchestrator, then hears notifications again", async () => {
  let wakes = 0;
  const lost: unknown[] = [];
  const listener = new WakeListener({ databaseUrl: db.url, onWake: () => (wakes += 1), onLost: (error) => lost.push(error) });
  await listener.start();
  try {
    expect(await listener.listenTo(['listen_ns'])).toBe(true);
    expect(await listener.listenTo(['listen_ns'])).toBe(false);
    expect(await terminate('tasker-orchestrator-listen')).toBe(1);
    await until('the loss to be reported', async () => lost.length === 1);
    const before = wakes;
    // Reopened (after 250 ms) with a wake-up, since notifications sent meanwhile were lost.
    await until('a wake-up after the reconnect', async () => wakes > before);
    expect(await sessions('tasker-orchestrator-listen')).toBe(1);
    // The queue channel is listened to again: a new task in the namespace wakes it.
    const afterReconnect = wakes;
    await createTask(db.pool, { namespace: 'listen_ns', name: 'single' });
    await until('the queue notification', async () => wakes > afterReconnect);
    await complete();
  } finally {
    await listener.close();
  }
});
