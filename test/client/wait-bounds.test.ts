/**
 * waitForTask's bounds: a timeoutMs it cannot honour is refused (NaN used to make it re-read the
 * task every millisecond); a database that accepts connections and never answers still ends the
 * wait at the caller's deadline (plus the grace each call gets) or signal; `timeoutMs: 0` reads
 * the task once.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TaskerClient, TaskWaitTimeoutError } from '../../sdk/src/client/index.ts';
import { cancelTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { single } from '../support/templates.ts';

const NS = 'wait_bounds';
let db: TestDatabase;
let client: TaskerClient;

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, single(NS));
  client = new TaskerClient({ databaseUrl: db.url });
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await client?.close();
  await db?.drop();
});

function countStatusReads(): () => number {
  const spy = vi.spyOn(pg.Pool.prototype, 'query');
  return () =>
    spy.mock.calls.filter((call, i) => {
      const pool = spy.mock.contexts[i] as { options?: { application_name?: string } } | undefined;
      return pool?.options?.application_name === 'tasker-client' && String(call[0]).includes('tasker.task_status');
    }).length;
}

it('refuses a timeoutMs that is not a number of ms, 0 or more, before reading anything', async () => {
  const { taskId } = await client.createTask({ namespace: NS, name: 'single' });
  const reads = countStatusReads();
  for (const timeoutMs of [Number.NaN, -1, '100' as unknown as number]) {
    await expect(client.waitForTask(taskId, { timeoutMs })).rejects.toThrow(RangeError);
  }
  expect(reads()).toBe(0);
  await cancelTask(db.pool, taskId);
});

it('timeoutMs: 0 reads the task once: a finished one is returned, a running one times out naming its state', async () => {
  const { taskId } = await client.createTask({ namespace: NS, name: 'single' });
  const error = await client.waitForTask(taskId, { timeoutMs: 0 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TaskWaitTimeoutError);
  expect((error as TaskWaitTimeoutError).lastState).toBe('in_progress');
  await cancelTask(db.pool, taskId);
  expect((await client.waitForTask(taskId, { timeoutMs: 0 })).state).toBe('cancelled');
});

describe('waitForTask against a database that accepts connections but never answers', () => {
  let server: net.Server;
  let sockets: net.Socket[] = [];
  let url: string;
  beforeAll(async () => {
    server = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `postgres://tasker:pw@127.0.0.1:${(server.address() as net.AddressInfo).port}/tasker`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    sockets = [];
    await new Promise((resolve) => server.close(resolve));
  });

  it('honours timeoutMs: rejects within about the timeout, not after the LISTEN connection gives up', { timeout: 20_000 }, async () => {
    const hung = new TaskerClient({ databaseUrl: url });
    const started = Date.now();
    const error = await hung.waitForTask('01890000-0000-7000-8000-0000000000aa', { timeoutMs: 300 }).catch((e: unknown) => e);
    const took = Date.now() - started;
    void hung.close();
    expect(error).toBeInstanceOf(TaskWaitTimeoutError);
    expect((error as TaskWaitTimeoutError).lastState).toBeNull();
    // The deadline, or the second each database call is given: not the LISTEN connection's 5 s.
    expect(took, 'ms until waitForTask({ timeoutMs: 300 }) settled').toBeLessThan(2_500);
  });

  it('honours an abort signal: rejects with its reason promptly', { timeout: 20_000 }, async () => {
    const hung = new TaskerClient({ databaseUrl: url });
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('user gave up')), 200);
    const started = Date.now();
    const error = await hung.waitForTask('01890000-0000-7000-8000-0000000000aa', { signal: stop.signal }).catch((e: unknown) => e);
    const took = Date.now() - started;
    void hung.close();
    expect((error as Error).message).toBe('user gave up');
    expect(took, 'ms until the aborted waitForTask settled').toBeLessThan(1_000);
  });
});
