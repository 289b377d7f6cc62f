/**
 * The orchestrator's servers against a real PostgreSQL: tasker.v1.TaskService (create, get,
 * list, cancel) through connect-node's gRPC, gRPC-Web and Connect clients, its errors as gRPC
 * status codes, the standard health protocol through grpc-js, and the REST health and metrics.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthStatus, ServiceKind } from '../../sdk/src/gen/tasker/v1/health_pb.ts';
import { StepState, TaskState } from '../../sdk/src/gen/tasker/v1/tasks_pb.ts';
import type { LogRecord } from '../../sdk/src/handler/index.ts';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';
import { get, healthClient, ServingStatus, StandardHealthClient, taskClient, WIRES } from './clients.ts';
import { parseExposition, valueOf } from './prometheus-text.ts';

const NS = 'health_orch';

let db: TestDatabase;
let orchestrator: Orchestrator;
const logs: LogRecord[] = [];

function port(kind: 'web' | 'grpc'): number {
  const address = orchestrator.servers[kind];
  if (address === null) throw new Error(`the orchestrator's ${kind} server is not running`);
  return address.port;
}

async function grpcCode(call: Promise<unknown>): Promise<Code> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error).code;
  }
  throw new Error('the call succeeded');
}

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, {
    ...template('order', [
      { name: 'charge', handler: 'ho.charge' },
      { name: 'ship', handler: 'ho.ship', dependencies: ['charge'] },
    ], NS),
    input_schema: { type: 'object', required: ['order_id'], properties: { order_id: { type: 'string' } } },
  });
  orchestrator = new Orchestrator({
    databaseUrl: db.url,
    deploymentMode: 'no-migrate',
    handleSignals: false,
    logWriter: (record) => logs.push(record),
    web: { host: '127.0.0.1', port: 0 },
    grpc: { host: '127.0.0.1', port: 0 },
  });
  await orchestrator.start();
});

afterAll(async () => {
  await orchestrator?.stop();
  await db?.drop();
});

describe('TaskService', () => {
  it.each(WIRES)('creates, reads, lists and cancels a task over %s', async (wire) => {
    const tasks = taskClient(port('grpc'), wire);
    const created = await tasks.createTask({
      namespace: NS,
      name: 'order',
      context: { order_id: `A-${wire}`, amount: 12.5, lines: [1, 2] },
      tags: ['rush'],
      priority: 3,
      idempotencyKey: `key-${wire}`,
      timeoutMs: 60_000n,
    });
    expect(created.created).toBe(true);
    expect(created.state).toBe(TaskState.IN_PROGRESS);
    const again = await tasks.createTask({ namespace: NS, name: 'order', context: { order_id: `A-${wire}` }, idempotencyKey: `key-${wire}` });
    expect(again).toMatchObject({ taskId: created.taskId, created: false });

    const { task } = await tasks.getTask({ taskId: created.taskId });
    expect(task).toMatchObject({
      taskId: created.taskId,
      namespace: NS,
      name: 'order',
      version: '1.0.0',
      state: TaskState.IN_PROGRESS,
      context: { order_id: `A-${wire}`, amount: 12.5, lines: [1, 2] },
      tags: ['rush'],
      priority: 3,
      idempotencyKey: `key-${wire}`,
      stepCounts: { enqueued: 1, pending: 1 },
    });
    expect(task?.steps.map((step) => [step.name, step.state, step.dependencies])).toEqual([
      ['charge', StepState.ENQUEUED, []],
      ['ship', StepState.PENDING, ['charge']],
    ]);
    expect(task?.steps[0]?.result).toBeUndefined();
    expect(task?.createdAt?.seconds).toBeGreaterThan(0n);

    const listed = await tasks.listTasks({ namespace: NS, states: [TaskState.IN_PROGRESS], pageSize: 500 });
    expect(listed.tasks.map((t) => t.taskId)).toContain(created.taskId);
    expect(listed.tasks.every((t) => t.steps.length === 0 && t.state === TaskState.IN_PROGRESS)).toBe(true);

    const cancelled = await tasks.cancelTask({ taskId: created.taskId, reason: 'test' });
    expect(cancelled).toMatchObject({ taskId: created.taskId, state: TaskState.CANCELLED, changed: true, cancelledSteps: 2 });
    const row = await db.pool.query<{ actor: string | null }>(
      `SELECT actor FROM tasker.task_transitions WHERE task_id = $1 AND to_state = 'cancelled'`,
      [created.taskId],
    );
    expect(row.rows[0]?.actor).toBe(orchestrator.instanceId);
  });

  it('pages through tasks newest first', async () => {
    const tasks = taskClient(port('grpc'));
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await tasks.createTask({ namespace: NS, name: 'order', context: { order_id: `P-${i}` } })).taskId);
    const seen: string[] = [];
    let pageToken = '';
    for (let page = 0; page < 10; page += 1) {
      const listed = await tasks.listTasks({ namespace: NS, name: 'order', states: [TaskState.IN_PROGRESS], pageSize: 2, pageToken });
      seen.push(...listed.tasks.map((t) => t.taskId));
      pageToken = listed.nextPageToken;
      if (pageToken === '') break;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it('answers bad requests with the status a caller can act on', async () => {
    const tasks = taskClient(port('grpc'));
    expect(await grpcCode(tasks.getTask({ taskId: '0190a0a0-0000-7000-8000-000000000000' }))).toBe(Code.NotFound);
    expect(await grpcCode(tasks.getTask({ taskId: 'not-a-uuid' }))).toBe(Code.InvalidArgument);
    expect(await grpcCode(tasks.cancelTask({ taskId: '0190a0a0-0000-7000-8000-000000000000' }))).toBe(Code.NotFound);
    expect(await grpcCode(tasks.createTask({ namespace: NS, name: 'nope' }))).toBe(Code.NotFound);
    expect(await grpcCode(tasks.createTask({ namespace: '', name: 'order' }))).toBe(Code.InvalidArgument);
    expect(await grpcCode(tasks.listTasks({ pageSize: 501 }))).toBe(Code.InvalidArgument);
    expect(await grpcCode(tasks.listTasks({ pageToken: 'garbage' }))).toBe(Code.InvalidArgument);
    expect(await grpcCode(tasks.listTasks({ states: [TaskState.UNSPECIFIED] }))).toBe(Code.InvalidArgument);
    // The template's input schema refuses the context, naming what is wrong.
    const refused = tasks.createTask({ namespace: NS, name: 'order', context: { order_id: 7 } });
    await expect(refused).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: expect.stringContaining('/order_id') });
  });
});

describe('health', () => {
  it('answers REST probes, and its metrics', async () => {
    expect((await get(port('web'), '/health')).json()).toMatchObject({ status: 'alive', service: 'orchestration' });
    const ready = await get(port('web'), '/health/ready');
    expect(ready.status, ready.text).toBe(200);
    expect((ready.json()['checks'] as { name: string }[]).map((check) => check.name).sort()).toEqual(['database', 'event_loop', 'state', 'sweeps']);
    const detailed = await get(port('web'), '/health/detailed');
    expect(detailed.json()).toMatchObject({
      status: 'healthy',
      service: 'orchestration',
      instanceId: orchestrator.instanceId,
      database: { reachable: true },
      orchestration: { state: 'running' },
    });
    expect((detailed.json()['queues'] as { namespace: string }[]).map((queue) => queue.namespace)).toContain(NS);
    expect(detailed.text).not.toContain(decodeURIComponent(new URL(db.url).password));

    const metrics = parseExposition((await get(port('web'), '/metrics')).text);
    expect(valueOf(metrics, 'tasker_sweeps_total')).toBeGreaterThan(0);
    expect(valueOf(metrics, 'tasker_info', { service: 'orchestration' })).toBe(1);
    expect(valueOf(metrics, 'tasker_ready')).toBe(1);
    expect(valueOf(metrics, 'tasker_queue_depth', { namespace: NS })).toBeGreaterThan(0);
    expect(valueOf(metrics, 'tasker_steps_in_progress')).toBe(0);
  });

  it('answers gRPC probes: grpc.health.v1 by service name, and tasker.v1.HealthService', async () => {
    const standard = new StandardHealthClient(port('grpc'));
    try {
      expect(await standard.check('')).toBe(ServingStatus.SERVING);
      expect(await standard.check('tasker.v1.TaskService')).toBe(ServingStatus.SERVING);
      await expect(standard.check('tasker.v1.Nope')).rejects.toMatchObject({ code: 5 });
    } finally {
      standard.close();
    }
    const health = healthClient(port('grpc'));
    expect(await health.checkLiveness({})).toMatchObject({ status: HealthStatus.HEALTHY, service: ServiceKind.ORCHESTRATION });
    const detailed = await health.getDetailedHealth({});
    expect(detailed.detail.case).toBe('orchestration');
  });

  it('logs the ports it listens on', () => {
    expect(logs.find((record) => record.message === 'orchestrator started')?.fields).toMatchObject({
      rest: `127.0.0.1:${port('web')}`,
      grpc: `127.0.0.1:${port('grpc')}`,
    });
  });
});
