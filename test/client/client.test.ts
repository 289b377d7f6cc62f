/**
 * TaskerClient's own behaviour, over the real protocol: what it adds to the SQL functions (the
 * input-schema check before creation, the conversion of rows, waiting woken by LISTEN, paging,
 * close) and the errors users get from it. The SQL underneath is covered by test/protocol.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClientClosedError, TaskerClient, TaskWaitTimeoutError } from '../../sdk/src/client/index.ts';
import { InvalidContextError } from '../../sdk/src/template/errors.ts';
import { UnknownTaskError, UnknownTemplateError } from '../../sdk/src/protocol/errors.ts';
import { cancelTask, claimSteps, registerTemplate, reportStep } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { single, template } from '../support/templates.ts';

const NS = 'client_ns';
const UNKNOWN_TASK = '01890000-0000-7000-8000-0000000000aa';

let db: TestDatabase;
let client: TaskerClient;

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, single(NS, { retry: { max_attempts: 1, backoff_ms: 0, max_backoff_ms: 0 } }));
  await registerTemplate(db.pool, {
    ...template('order', [{ name: 'charge', handler: 'h.charge' }], NS),
    input_schema: {
      type: 'object',
      required: ['order_id'],
      properties: { order_id: { type: 'string' }, amount: { type: 'number', minimum: 0 } },
    },
  });
  client = new TaskerClient({ databaseUrl: db.url });
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await client?.close();
  await db?.drop();
});

/** Counts `tasker.task_status` reads made through a TaskerClient's pool from now on. */
function countStatusReads(): () => number {
  const spy = vi.spyOn(pg.Pool.prototype, 'query');
  return () =>
    spy.mock.calls.filter((call, i) => {
      const pool = spy.mock.contexts[i] as { options?: { application_name?: string } } | undefined;
      return pool?.options?.application_name === 'tasker-client' && String(call[0]).includes('tasker.task_status');
    }).length;
}

/** Runs the task's one step and reports `outcome` through the protocol, as a worker would. */
async function runOnlyStep(outcome: 'success' | 'permanent_failure'): Promise<void> {
  const { claimed } = await claimSteps(db.pool, { namespace: NS, batchSize: 1, leaseSeconds: 30, workerId: 'w' });
  const step = claimed[0];
  if (step === undefined) throw new Error('no step to claim');
  await reportStep(db.pool, {
    stepId: step.stepId,
    attempt: step.attempt,
    delivery: step.delivery,
    outcome,
    ...(outcome === 'success' ? { result: { ok: true } } : { error: { kind: 'test', message: 'no' } }),
  });
}

describe('createTask and getTask', () => {
  it('creates a task and reads it back with its steps, timestamps as Dates', async () => {
    const created = await client.createTask({ namespace: NS, name: 'single', context: { n: 1 }, tags: ['t1'] });
    expect(created).toMatchObject({ created: true });
    const task = await client.getTask(created.taskId);
    expect(task).toMatchObject({
      taskId: created.taskId,
      namespace: NS,
      name: 'single',
      version: '1.0.0',
      context: { n: 1 },
      tags: ['t1'],
      finishedAt: null,
    });
    expect(task?.createdAt).toBeInstanceOf(Date);
    expect(task?.steps).toHaveLength(1);
    expect(task?.steps[0]).toMatchObject({ name: 'only', handler: 'h.only', state: 'enqueued', attempt: 1, maxAttempts: 1, result: null });
    expect(task?.stepCounts).toEqual({ enqueued: 1 });
    await cancelTask(db.pool, created.taskId);
  });

  it('returns the existing task for an idempotency key already used, with created: false', async () => {
    const first = await client.createTask({ namespace: NS, name: 'single', idempotencyKey: 'order-42' });
    const again = await client.createTask({ namespace: NS, name: 'single', idempotencyKey: 'order-42', context: { other: true } });
    expect(again).toMatchObject({ taskId: first.taskId, created: false });
    expect((await client.getTask(first.taskId))?.context).toEqual({});
    await cancelTask(db.pool, first.taskId);
  });

  it("refuses a context that breaks the template's input_schema, listing every violation, and creates nothing", async () => {
    const before = await client.listTasks({ namespace: NS, name: 'order' });
    const refusal = client.createTask({ namespace: NS, name: 'order', context: { amount: -5 } });
    await expect(refusal).rejects.toBeInstanceOf(InvalidContextError);
    const error = (await refusal.catch((e: unknown) => e)) as InvalidContextError;
    expect(error.template).toBe(`${NS}/order@1.0.0`);
    expect(error.errors.map((e) => e.path).sort()).toEqual(['/amount', '/order_id']);
    expect(error.message).toMatch(/order_id/);
    expect((await client.listTasks({ namespace: NS, name: 'order' })).tasks).toHaveLength(before.tasks.length);

    const accepted = await client.createTask({ namespace: NS, name: 'order', context: { order_id: 'A1', amount: 5 } });
    expect(accepted.created).toBe(true);
    await cancelTask(db.pool, accepted.taskId);
  });

  it('names an unknown template, and answers null for an unknown task', async () => {
    await expect(client.createTask({ namespace: NS, name: 'nope' })).rejects.toBeInstanceOf(UnknownTemplateError);
    expect(await client.getTask(UNKNOWN_TASK)).toBeNull();
  });
});

describe('listTasks', () => {
  it('pages newest first with a cursor, filtered by template and state', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await client.createTask({ namespace: NS, name: 'order', context: { order_id: `P${i}` } })).taskId);
    const first = await client.listTasks({ namespace: NS, name: 'order', states: ['in_progress', 'pending'], limit: 2 });
    expect(first.tasks.map((t) => t.taskId)).toEqual([ids[2], ids[1]]);
    expect(first.nextCursor).not.toBeNull();
    const second = await client.listTasks({ namespace: NS, name: 'order', states: ['in_progress', 'pending'], limit: 2, cursor: first.nextCursor ?? '' });
    expect(second.tasks.map((t) => t.taskId)).toEqual([ids[0]]);
    expect(second.nextCursor).toBeNull();
    await expect(client.listTasks({ limit: 0 })).rejects.toBeInstanceOf(RangeError);
    for (const id of ids) await cancelTask(db.pool, id);
  });
});

describe('waitForTask', () => {
  it('resolves when the task finishes, with its results', async () => {
    const { taskId } = await client.createTask({ namespace: NS, name: 'single' });
    const waiting = client.waitForTask(taskId, { timeoutMs: 10_000 });
    await runOnlyStep('success');
    const task = await waiting;
    expect(task.state).toBe('complete');
    expect(task.steps[0]?.result).toEqual({ ok: true });
    expect(task.finishedAt).toBeInstanceOf(Date);
  });

  it('reads the task once at the start and once at the deadline, not in between, even when other tasks finish', async () => {
    const { taskId } = await client.createTask({ namespace: NS, name: 'single' });
    const other = await client.createTask({ namespace: NS, name: 'order', context: { order_id: 'X' } });
    const reads = countStatusReads();
    const waiting = client.waitForTask(taskId, { timeoutMs: 1_500 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Announced on the channel the waiter listens to, but about another task.
    expect((await cancelTask(db.pool, other.taskId)).changed).toBe(true);
    const error = (await waiting.catch((e: unknown) => e)) as TaskWaitTimeoutError;
    expect(error).toBeInstanceOf(TaskWaitTimeoutError);
    expect(error).toMatchObject({ code: 'TASK_WAIT_TIMEOUT', taskId, timeoutMs: 1_500 });
    expect(error.lastState).not.toMatch(/complete|error|cancelled/);
    expect(reads()).toBe(2);
    await cancelTask(db.pool, taskId);
  });

  it("takes a timeout beyond setTimeout's limit (about 24.8 days) as a long wait, not as a poll every millisecond", async () => {
    const { taskId } = await client.createTask({ namespace: NS, name: 'single' });
    const reads = countStatusReads();
    const stop = new AbortController();
    const waiting = client.waitForTask(taskId, { timeoutMs: 2 ** 32, signal: stop.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop.abort(new Error('enough'));
    await expect(waiting).rejects.toThrow('enough');
    expect(reads()).toBe(1);
    await cancelTask(db.pool, taskId);
  });

  it('rejects with the reason of an aborted signal', async () => {
    const { taskId } = await client.createTask({ namespace: NS, name: 'single' });
    const stop = new AbortController();
    const waiting = client.waitForTask(taskId, { signal: stop.signal });
    setTimeout(() => stop.abort(new Error('gave up')), 100);
    await expect(waiting).rejects.toThrow('gave up');
    await cancelTask(db.pool, taskId);
  });

  it('rejects an unknown task id with UnknownTaskError', async () => {
    await expect(client.waitForTask(UNKNOWN_TASK)).rejects.toBeInstanceOf(UnknownTaskError);
  });
});

describe('cancelTask and retryTask', () => {
  it('cancels a running task (a waiter sees it), leaves a finished one alone, and gives a failed one another run', async () => {
    const { taskId } = await client.createTask({ namespace: NS, name: 'single' });
    const waiting = client.waitForTask(taskId, { timeoutMs: 10_000 });
    expect(await client.cancelTask(taskId, 'not needed')).toMatchObject({ taskId, state: 'cancelled', changed: true });
    expect((await waiting).state).toBe('cancelled');
    expect(await client.cancelTask(taskId)).toMatchObject({ changed: false });

    const failing = await client.createTask({ namespace: NS, name: 'single' });
    await runOnlyStep('permanent_failure');
    expect((await client.waitForTask(failing.taskId, { timeoutMs: 10_000 })).state).toBe('error');
    expect(await client.retryTask(failing.taskId)).toMatchObject({ changed: true, retriedSteps: 1, enqueuedSteps: 1 });
    const retried = await client.getTask(failing.taskId);
    expect(retried?.state).not.toBe('error');
    expect(retried?.steps[0]).toMatchObject({ state: 'enqueued', error: expect.anything() as unknown });
    await runOnlyStep('success');
    expect((await client.waitForTask(failing.taskId, { timeoutMs: 10_000 })).state).toBe('complete');
  });
});

describe('close', () => {
  it('rejects a waiter with ClientClosedError, refuses every call afterwards, and may be called twice', async () => {
    const own = new TaskerClient({ databaseUrl: db.url });
    const { taskId } = await own.createTask({ namespace: NS, name: 'single' });
    const waiting = own.waitForTask(taskId);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await own.close();
    await expect(waiting).rejects.toBeInstanceOf(ClientClosedError);
    await expect(own.getTask(taskId)).rejects.toBeInstanceOf(ClientClosedError);
    await expect(own.createTask({ namespace: NS, name: 'single' })).rejects.toBeInstanceOf(ClientClosedError);
    await expect(own.waitForTask(taskId)).rejects.toBeInstanceOf(ClientClosedError);
    await own.close();
    await cancelTask(db.pool, taskId);
  });

  it('rejects with ClientClosedError a waiter whose LISTEN connection was still opening when close() came', async () => {
    const own = new TaskerClient({ databaseUrl: db.url });
    const { taskId } = await own.createTask({ namespace: NS, name: 'single' });
    // No await between the two: the waiter's LISTEN connection is being opened when close() runs.
    const waiting = own.waitForTask(taskId);
    const closing = own.close();
    const error: unknown = await waiting.catch((e: unknown) => e);
    await closing;
    expect(error).toBeInstanceOf(ClientClosedError);
    await cancelTask(db.pool, taskId);
  });
});
