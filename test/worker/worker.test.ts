/**
 * The worker runtime in-process on Node, over the pg binding (the worker's logic does not depend
 * on the binding; test/examples and the conformance suite cover the others): timeouts through
 * the AbortSignal, drain with and without a grace period that runs out, handler errors that never
 * crash the worker, unknown handlers, the concurrency limit, and cancellation reaching a running
 * handler.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TaskerClient } from '../../sdk/src/client/index.ts';
import { defineHandler, type HandlerInput, type LogRecord } from '../../sdk/src/handler/index.ts';
import { registerTemplate, type TemplateStep } from '../../sdk/src/protocol/index.ts';
import { Worker, type WorkerOptions } from '../../sdk/src/worker/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { sleep } from '../support/queue.ts';
import { template } from '../support/templates.ts';

let db: TestDatabase;
let client: TaskerClient;
const workers: Worker[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  client = new TaskerClient({ databaseUrl: db.url });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop(0)));
});

afterAll(async () => {
  await client.close();
  await db.drop();
});

async function startWorker(namespace: string, handlers: HandlerInput[], options: Partial<WorkerOptions> = {}) {
  const logs: LogRecord[] = [];
  const worker = new Worker({
    databaseUrl: db.url,
    namespaces: [namespace],
    handlers,
    binding: 'pg',
    handleSignals: false,
    logWriter: (record) => logs.push(record),
    core: { pollIntervalMs: 50 },
    ...options,
  });
  workers.push(worker);
  await worker.start();
  return { worker, logs };
}

async function runTask(namespace: string, steps: TemplateStep[], context = {}) {
  await registerTemplate(db.pool, template('t', steps, namespace));
  const { taskId } = await client.createTask({ namespace, name: 't', context });
  return taskId;
}

describe('step timeouts', () => {
  it('aborts a handler that honours the signal and reports StepTimeout', async () => {
    let abortedAfterMs: number | undefined;
    const slow = defineHandler('h.slow', async (ctx) => {
      const started = performance.now();
      await new Promise<void>((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          abortedAfterMs = performance.now() - started;
          resolve();
        });
      });
      throw ctx.signal.reason;
    });
    await startWorker('timeout_ns', [slow]);
    const taskId = await runTask('timeout_ns', [{ name: 's', handler: 'h.slow', timeout_ms: 100, retry: { max_attempts: 1 } }]);
    const task = await client.waitForTask(taskId, { timeoutMs: 20_000 });
    // At its timeout (100 ms), not some multiple of it.
    expect(abortedAfterMs).toBeGreaterThanOrEqual(95);
    expect(abortedAfterMs).toBeLessThan(600);
    expect(task.state).toBe('error');
    expect(task.steps[0]?.error).toMatchObject({ kind: 'StepTimeout' });
  });

  it('does not wait for a handler that ignores the abort', async () => {
    let startedAt = 0;
    const stubborn = defineHandler('h.stubborn', async () => {
      startedAt = Date.now();
      await sleep(3_000);
      return 'too late';
    });
    const { worker } = await startWorker('ignore_ns', [stubborn]);
    const taskId = await runTask('ignore_ns', [{ name: 's', handler: 'h.stubborn', timeout_ms: 100, retry: { max_attempts: 1 } }]);
    const task = await client.waitForTask(taskId, { timeoutMs: 20_000 });
    // Reported at the timeout, though the handler runs on for 3 s.
    expect(Date.now() - startedAt).toBeLessThan(700);
    expect(task.steps[0]?.error).toMatchObject({ kind: 'StepTimeout' });
    await expect.poll(() => worker.stats().running).toBe(0);
  });
});

describe('errors never crash the worker', () => {
  it('records a throw as a retryable failure and keeps serving', async () => {
    let calls = 0;
    const flaky = defineHandler('h.flaky', () => {
      calls += 1;
      if (calls === 1) throw new TypeError('not today');
      return { calls };
    });
    const weird = defineHandler('h.weird', () => {
      throw 'a string, not an Error';
    });
    const { worker } = await startWorker('errors_ns', [flaky, weird]);
    const first = await runTask('errors_ns', [{ name: 's', handler: 'h.flaky', retry: { max_attempts: 2, backoff_ms: 10 } }]);
    const done = await client.waitForTask(first, { timeoutMs: 20_000 });
    expect(done.state).toBe('complete');
    expect(done.steps[0]).toMatchObject({ attempt: 2, result: { calls: 2 } });

    await registerTemplate(db.pool, template('w', [{ name: 'w', handler: 'h.weird', retry: { max_attempts: 1 } }], 'errors_ns'));
    const { taskId } = await client.createTask({ namespace: 'errors_ns', name: 'w' });
    const failed = await client.waitForTask(taskId, { timeoutMs: 20_000 });
    expect(failed.steps[0]?.error).toMatchObject({ kind: 'NonErrorThrown' });
    // The task can finish (and wake waitForTask) a moment before the worker's report resolves.
    await expect.poll(() => worker.stats()).toMatchObject({ state: 'running', succeeded: 1, retried: 1, failed: 1 });
  });

  it('fails a step whose handler is not registered, naming it', async () => {
    await startWorker('unknown_ns', [defineHandler('h.known', () => 1)]);
    const taskId = await runTask('unknown_ns', [{ name: 's', handler: 'h.missing' }]);
    const task = await client.waitForTask(taskId, { timeoutMs: 20_000 });
    expect(task.state).toBe('error');
    expect(task.steps[0]?.attempt).toBe(1);
    expect(task.steps[0]?.error).toMatchObject({ kind: 'UnknownHandler', message: expect.stringContaining('h.missing') });
  });
});

describe('concurrency', () => {
  it('never runs more handlers at once than the limit', async () => {
    let running = 0;
    let peak = 0;
    const busy = defineHandler('h.busy', async () => {
      running += 1;
      peak = Math.max(peak, running);
      await sleep(30);
      running -= 1;
      return null;
    });
    await startWorker('conc_ns', [busy], { concurrency: 3 });
    await registerTemplate(db.pool, template('t', [{ name: 's', handler: 'h.busy' }], 'conc_ns'));
    const ids = await Promise.all(
      Array.from({ length: 20 }, async () => (await client.createTask({ namespace: 'conc_ns', name: 't' })).taskId),
    );
    const tasks = await Promise.all(ids.map((id) => client.waitForTask(id, { timeoutMs: 30_000 })));
    expect(tasks.every((task) => task.state === 'complete')).toBe(true);
    expect(peak).toBe(3);
  });

  it('frees a handler slot when the handler finishes, not when its report commits', async () => {
    // The first step's handler locks its own row in a transaction the test holds open, so its
    // report cannot commit; with one slot, the second step runs only if the slot is free.
    const holder = await db.pool.connect();
    const ran: string[] = [];
    let locked: string | undefined;
    try {
      const step = defineHandler('h.step', async (ctx) => {
        if (ran.length === 0) {
          locked = ctx.taskId;
          await holder.query('BEGIN');
          await holder.query('SELECT 1 FROM tasker.workflow_steps WHERE step_id = $1 FOR UPDATE', [ctx.stepId]);
        }
        ran.push(ctx.stepId);
        return null;
      });
      const { worker } = await startWorker('slot_ns', [step], { concurrency: 1 });
      await registerTemplate(db.pool, template('t', [{ name: 's', handler: 'h.step' }], 'slot_ns'));
      const ids: string[] = [];
      for (let i = 0; i < 2; i += 1) ids.push((await client.createTask({ namespace: 'slot_ns', name: 't' })).taskId);
      await expect.poll(() => ran.length, { timeout: 10_000 }).toBe(2);
      expect(worker.stats().reporting).toBeGreaterThanOrEqual(1);
      expect(locked).toBeDefined();
      const blocked = await client.getTask(locked ?? '');
      expect(blocked?.steps[0]?.state).toBe('in_progress');
      await holder.query('COMMIT');
      const tasks = await Promise.all(ids.map((id) => client.waitForTask(id, { timeoutMs: 20_000 })));
      expect(tasks.map((task) => task.state)).toEqual(['complete', 'complete']);
      // The database's notification can reach waitForTask before the report's answer reaches the worker.
      await expect.poll(() => worker.stats().reporting, { timeout: 10_000 }).toBe(0);
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      holder.release();
    }
  });

  it('stops taking steps while 2 × reportBatchMax reports are unanswered', async () => {
    // Every handler locks its own row in one transaction the test holds open, so no report can
    // commit. With reportBatchMax 1 the worker may have two reports out; with one slot it then
    // must not take a third step however long it waits, and takes the rest once they commit.
    const holder = await db.pool.connect();
    const ran: string[] = [];
    try {
      await holder.query('BEGIN');
      const step = defineHandler('h.bound', async (ctx) => {
        await holder.query('SELECT 1 FROM tasker.workflow_steps WHERE step_id = $1 FOR UPDATE', [ctx.stepId]);
        ran.push(ctx.stepId);
        return null;
      });
      await registerTemplate(db.pool, template('t', [{ name: 's', handler: 'h.bound' }], 'bound_ns'));
      const { worker } = await startWorker('bound_ns', [step], { concurrency: 1, core: { pollIntervalMs: 50, reportBatchMax: 1 } });
      const ids: string[] = [];
      for (let i = 0; i < 4; i += 1) ids.push((await client.createTask({ namespace: 'bound_ns', name: 't' })).taskId);
      await expect.poll(() => worker.stats().reporting, { timeout: 10_000 }).toBe(2);
      await sleep(1_000);
      expect(ran.length).toBe(2);
      expect(worker.stats()).toMatchObject({ running: 0, reporting: 2 });
      await holder.query('COMMIT');
      const tasks = await Promise.all(ids.map((id) => client.waitForTask(id, { timeoutMs: 20_000 })));
      expect(tasks.map((task) => task.state)).toEqual(['complete', 'complete', 'complete', 'complete']);
      expect(ran.length).toBe(4);
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      holder.release();
    }
  });
});

describe('drain', () => {
  it('lets a running step finish and report before stopping', async () => {
    let started = false;
    const slow = defineHandler('h.drain', async () => {
      started = true;
      await sleep(400);
      return 'finished';
    });
    const { worker } = await startWorker('drain_ns', [slow]);
    const taskId = await runTask('drain_ns', [{ name: 's', handler: 'h.drain' }]);
    while (!started) await sleep(10);
    const result = await worker.stop(5_000);
    expect(result.aborted).toBe(0);
    expect(worker.stats()).toMatchObject({ state: 'stopped', succeeded: 1 });
    const task = await client.getTask(taskId);
    expect(task?.state).toBe('complete');
  });

  it('aborts what outlives the grace period and leaves it for redelivery without using an attempt', async () => {
    let started = false;
    const stuck = defineHandler('h.stuck', async () => {
      started = true;
      await sleep(10_000);
      return 'never';
    });
    const { worker } = await startWorker('grace_ns', [stuck]);
    const taskId = await runTask('grace_ns', [{ name: 's', handler: 'h.stuck' }]);
    while (!started) await sleep(10);
    const began = Date.now();
    const result = await worker.stop(200);
    expect(result.aborted).toBe(1);
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(worker.stats()).toMatchObject({ state: 'stopped', abandoned: 1, failed: 0, retried: 0 });
    const task = await client.getTask(taskId);
    expect(task?.steps[0]).toMatchObject({ state: 'in_progress', attempt: 1, error: null });
  });
});

describe('stop during start', () => {
  it('waits for the start to finish, then stops: nothing keeps claiming after stop() resolved', async () => {
    let ran = 0;
    const counted = defineHandler('h.late', () => {
      ran += 1;
      return 'ran';
    });
    const worker = new Worker({
      databaseUrl: db.url,
      namespaces: ['late_ns'],
      handlers: [counted],
      binding: 'pg',
      handleSignals: false,
      logWriter: () => {},
      core: { pollIntervalMs: 50 },
    });
    workers.push(worker);
    await registerTemplate(db.pool, template('t', [{ name: 's', handler: 'h.late' }], 'late_ns'));
    const starting = worker.start();
    const result = await worker.stop(0);
    await starting;
    expect(result.aborted).toBe(0);
    expect(worker.stats().state).toBe('stopped');
    await worker.whenStopped();
    // A stopped worker must not pick this up.
    const { taskId } = await client.createTask({ namespace: 'late_ns', name: 't' });
    await sleep(500);
    expect(ran).toBe(0);
    expect((await client.getTask(taskId))?.steps[0]?.state).toBe('enqueued');
    await client.cancelTask(taskId);
  });
});

describe('cancellation', () => {
  it('aborts the running handler of a cancelled task', async () => {
    let aborted: unknown;
    let started = false;
    const waits = defineHandler('h.waits', async (ctx) => {
      started = true;
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      aborted = ctx.signal.reason;
      return null;
    });
    // Heartbeats every 100 ms bring the cancellation to the worker quickly.
    await startWorker('cancel_ns', [waits], { core: { pollIntervalMs: 50, heartbeatMs: 100 } });
    const taskId = await runTask('cancel_ns', [{ name: 's', handler: 'h.waits' }]);
    while (!started) await sleep(10);
    await client.cancelTask(taskId, 'changed my mind');
    const deadline = Date.now() + 10_000;
    while (aborted === undefined && Date.now() < deadline) await sleep(20);
    expect(aborted).toMatchObject({ name: 'StepCancelledError' });
    expect((await client.getTask(taskId))?.state).toBe('cancelled');
  });
});
