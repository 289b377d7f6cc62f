/**
 * A worker's REST and gRPC servers, in process on Node, against a real PostgreSQL: liveness,
 * readiness and the detailed report over REST and over every gRPC wire (gRPC, gRPC-Web, Connect
 * on HTTP/1.1 and HTTP/2), the standard grpc.health.v1 protocol through grpc-js, the metrics
 * after a workflow that succeeds, retries and fails, readiness lost to a blocked event loop and
 * to a drain, and the ports closed after stop().
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskerClient, type TaskInfo } from '../../sdk/src/client/index.ts';
import { HealthStatus, ServiceKind } from '../../sdk/src/gen/tasker/v1/health_pb.ts';
import { defineHandler, PermanentError, RetryableError, type LogRecord } from '../../sdk/src/handler/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { Worker } from '../../sdk/src/worker/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { sleep } from '../support/queue.ts';
import { template } from '../support/templates.ts';
import { eventually, get, healthClient, ServingStatus, StandardHealthClient, WIRES } from './clients.ts';
import { parseExposition, valueOf } from './prometheus-text.ts';

const NS = 'health_worker';
const SDK_VERSION = (JSON.parse(readFileSync(new URL('../../sdk/package.json', import.meta.url), 'utf8')) as { version: string }).version;

let db: TestDatabase;
let client: TaskerClient;
let worker: Worker;
const logs: LogRecord[] = [];
/** Tasks whose flaky step has failed once already. */
const failedOnce = new Set<string>();

const slow = defineHandler('hw.slow', async () => {
  // Longer than a few heartbeats (heartbeatMs 100), so lease extensions are counted.
  await sleep(350);
  return 'slow done';
});
const flaky = defineHandler('hw.flaky', (ctx) => {
  if (!failedOnce.has(ctx.taskId)) {
    failedOnce.add(ctx.taskId);
    throw new RetryableError('first attempt fails');
  }
  return 'flaky done';
});
const doomed = defineHandler('hw.doomed', () => {
  throw new PermanentError('never works');
});
const blocker = defineHandler('hw.block', () => {
  // Blocks the event loop on purpose: nothing else in the process can run meanwhile.
  const until = Date.now() + 900;
  while (Date.now() < until) {
    /* spin */
  }
  return 'blocked';
});
const sleeper = defineHandler('hw.sleep', async () => {
  await sleep(1_500);
  return 'slept';
});

/**
 * waitForTask, and when it times out, the error says where the task stood: each step's state,
 * attempt, deliveries and lease, and the worker's last log lines (this test once timed out under
 * a loaded full-suite run, 2026-11-23, with nothing to tell why).
 */
async function waitOrExplain(taskId: string): Promise<TaskInfo> {
  try {
    return await client.waitForTask(taskId, { timeoutMs: 30_000 });
  } catch (error) {
    const task = await client.getTask(taskId).catch(() => null);
    const steps = task?.steps.map((step) => ({
      name: step.name,
      state: step.state,
      attempt: step.attempt,
      deliveries: step.deliveries,
      leaseExpiresAt: step.leaseExpiresAt,
      nextRetryAt: step.nextRetryAt,
      error: step.error,
    }));
    const recent = logs.slice(-30).map((record) => JSON.stringify(record));
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}; task ${task?.state ?? 'not found'}, steps ${JSON.stringify(steps)}; ` +
        `worker log (last ${recent.length}):\n${recent.join('\n')}`,
      { cause: error },
    );
  }
}

function port(kind: 'web' | 'grpc'): number {
  const address = worker.servers[kind];
  if (address === null) throw new Error(`the worker's ${kind} server is not running`);
  return address.port;
}

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, template('flow', [
    { name: 'first', handler: 'hw.slow' },
    { name: 'second', handler: 'hw.flaky', dependencies: ['first'], retry: { max_attempts: 3, backoff_ms: 0, max_backoff_ms: 0 } },
  ], NS));
  await registerTemplate(db.pool, template('doomed', [{ name: 'only', handler: 'hw.doomed', retry: { max_attempts: 3 } }], NS));
  await registerTemplate(db.pool, template('block', [{ name: 'only', handler: 'hw.block' }], NS));
  await registerTemplate(db.pool, template('sleep', [{ name: 'only', handler: 'hw.sleep' }], NS));
  client = new TaskerClient({ databaseUrl: db.url });
  worker = new Worker({
    databaseUrl: db.url,
    namespaces: [NS],
    handlers: [slow, flaky, doomed, blocker, sleeper],
    handleSignals: false,
    logWriter: (record) => logs.push(record),
    core: { pollIntervalMs: 50, heartbeatMs: 100 },
    web: { host: '127.0.0.1', port: 0 },
    grpc: { host: '127.0.0.1', port: 0 },
    health: { eventLoopBlockedMs: 400, eventLoopWindowMs: 1_500 },
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.stop(0);
  await client?.close();
  await db?.drop();
});

describe('REST', () => {
  it('answers liveness and readiness with every check passing', async () => {
    const live = await get(port('web'), '/health');
    expect(live.status).toBe(200);
    expect(live.json()).toMatchObject({ status: 'alive', alive: true, service: 'worker', instanceId: worker.workerId });
    const ready = await get(port('web'), '/health/ready');
    expect(ready.status, ready.text).toBe(200);
    const checks = ready.json()['checks'] as { name: string; ok: boolean }[];
    expect(checks.map((check) => check.name).sort()).toEqual(['claim_loop', 'database', 'event_loop', 'state']);
    expect(checks.every((check) => check.ok)).toBe(true);
  });

  it('reports the details an operator needs, and no secret', async () => {
    const detailed = await get(port('web'), '/health/detailed');
    expect(detailed.status, detailed.text).toBe(200);
    const body = detailed.json();
    const { rows } = await db.pool.query<{ version: string }>('SELECT tasker.pgmq_version() AS version');
    expect(body).toMatchObject({
      status: 'healthy',
      ready: true,
      service: 'worker',
      runtime: 'node',
      runtimeVersion: process.versions.node,
      version: SDK_VERSION,
      database: { reachable: true, pgmqVersion: rows[0]?.version },
      worker: { state: 'running', namespaces: [NS], binding: worker.stats().binding },
    });
    expect(body['queues']).toEqual([expect.objectContaining({ namespace: NS, queue: `worker_${NS}_queue` })]);
    expect(typeof body['uptimeSeconds']).toBe('number');
    expect(typeof body['inFlightSteps']).toBe('number');
    // Idle between tests: no report outstanding, and the claim size at least batchSize (10).
    const workerBody = body['worker'] as { reporting: unknown; claimSize: unknown };
    expect(workerBody.reporting).toBe(0);
    expect(workerBody.claimSize).toBe(worker.stats().core?.claimSize);
    expect(workerBody.claimSize).toBeGreaterThanOrEqual(10);
    const password = decodeURIComponent(new URL(db.url).password);
    expect(password.length).toBeGreaterThan(0);
    for (const path of ['/health', '/health/ready', '/health/detailed', '/metrics']) {
      const text = (await get(port('web'), path)).text;
      expect(text).not.toContain(password);
      expect(text).not.toContain('postgres://');
      expect(text).not.toContain('postgresql://');
    }
  });

  it('answers 404 for an unknown path and 405 for a POST', async () => {
    expect((await get(port('web'), '/nope')).status).toBe(404);
    const post = await fetch(`http://127.0.0.1:${port('web')}/health`, { method: 'POST' });
    expect(post.status).toBe(405);
  });
});

describe('metrics after a workflow', () => {
  it('counts claims, successes, retries and failures by namespace and handler, with durations', async () => {
    const tasks = await Promise.all([
      client.createTask({ namespace: NS, name: 'flow' }),
      client.createTask({ namespace: NS, name: 'flow' }),
      client.createTask({ namespace: NS, name: 'doomed' }),
    ]);
    const finished = await Promise.all(tasks.map((task) => waitOrExplain(task.taskId)));
    expect(finished.map((task) => task.state)).toEqual(['complete', 'complete', 'error']);
    // The worker counts a step when its report's answer comes back, which can be a moment after
    // the commit that woke waitForTask: wait for the last reports to be counted, then read.
    await eventually('the worker to count every report', async () => {
      const counted = parseExposition((await get(port('web'), '/metrics')).text);
      const settled = (handler: string) => valueOf(counted, 'tasker_step_duration_seconds_count', { namespace: NS, handler, outcome: 'success' });
      return (
        settled('hw.slow') === 2 &&
        settled('hw.flaky') === 2 &&
        valueOf(counted, 'tasker_steps_failed_total', { namespace: NS, handler: 'hw.doomed' }) === 1
      );
    });

    const scrape = await get(port('web'), '/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const metrics = parseExposition(scrape.text);
    const of = (handler: string) => ({ namespace: NS, handler });
    expect(valueOf(metrics, 'tasker_steps_claimed_total', of('hw.slow'))).toBe(2);
    // Each flaky step ran twice: a retryable failure, then a success.
    expect(valueOf(metrics, 'tasker_steps_claimed_total', of('hw.flaky'))).toBe(4);
    expect(valueOf(metrics, 'tasker_steps_succeeded_total', of('hw.slow'))).toBe(2);
    expect(valueOf(metrics, 'tasker_steps_succeeded_total', of('hw.flaky'))).toBe(2);
    expect(valueOf(metrics, 'tasker_steps_retried_total', of('hw.flaky'))).toBe(2);
    expect(valueOf(metrics, 'tasker_steps_failed_total', of('hw.doomed'))).toBe(1);
    expect(valueOf(metrics, 'tasker_steps_failed_total', of('hw.flaky'))).toBeUndefined();
    expect(valueOf(metrics, 'tasker_step_duration_seconds_count', { ...of('hw.slow'), outcome: 'success' })).toBe(2);
    expect(valueOf(metrics, 'tasker_step_duration_seconds_count', { ...of('hw.flaky'), outcome: 'retryable_failure' })).toBe(2);
    expect(valueOf(metrics, 'tasker_step_duration_seconds_count', { ...of('hw.doomed'), outcome: 'permanent_failure' })).toBe(1);
    // The slow handler ran 350 ms: none of its durations fit the 0.25 s bucket, all fit 0.5 s.
    expect(valueOf(metrics, 'tasker_step_duration_seconds_bucket', { ...of('hw.slow'), outcome: 'success', le: '0.25' })).toBe(0);
    expect(valueOf(metrics, 'tasker_step_duration_seconds_bucket', { ...of('hw.slow'), outcome: 'success', le: '0.5' })).toBe(2);
    expect(valueOf(metrics, 'tasker_lease_extensions_total')).toBeGreaterThan(0);
    expect(valueOf(metrics, 'tasker_claim_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(valueOf(metrics, 'tasker_claim_round_trips_total')).toBeGreaterThan(0);
    // Three tasks never fill a claim: the claim size stays at batchSize (10).
    expect(valueOf(metrics, 'tasker_claim_size')).toBe(10);
    expect(valueOf(metrics, 'tasker_steps_reporting')).toBe(0);
    expect(valueOf(metrics, 'tasker_queue_depth', { namespace: NS })).toBe(0);
    expect(valueOf(metrics, 'tasker_queue_visible_depth', { namespace: NS })).toBe(0);
    expect(valueOf(metrics, 'tasker_event_loop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(valueOf(metrics, 'tasker_ready')).toBe(1);
    expect(valueOf(metrics, 'tasker_database_up')).toBe(1);
    expect(valueOf(metrics, 'tasker_info', { service: 'worker', runtime: 'node', version: SDK_VERSION })).toBe(1);
    expect(metrics.types.get('tasker_step_duration_seconds')).toBe('histogram');
    expect(metrics.types.get('tasker_steps_claimed_total')).toBe('counter');
  });

  it('reports the event loop\'s lag: a loop blocked for 300 ms shows in the next scrape', async () => {
    // The request goes out, then the loop is blocked; the lag timer's late sample is taken when
    // the loop turns again, before the request is answered.
    const scraping = get(port('web'), '/metrics');
    const until = performance.now() + 300;
    while (performance.now() < until) {
      // busy: nothing else runs
    }
    const lag = valueOf(parseExposition((await scraping).text), 'tasker_event_loop_lag_seconds');
    expect(lag).toBeGreaterThanOrEqual(0.2);
  });

  it('shows queue depth while work waits', async () => {
    // A message delayed an hour: in the queue, but not claimable, so the worker leaves it there.
    await db.pool.query(`SELECT pgmq.send($1, '{"poison": true}'::jsonb, 3600)`, [`worker_${NS}_queue`]);
    const metrics = parseExposition((await get(port('web'), '/metrics')).text);
    expect(valueOf(metrics, 'tasker_queue_depth', { namespace: NS })).toBe(1);
    expect(valueOf(metrics, 'tasker_queue_visible_depth', { namespace: NS })).toBe(0);
    await db.pool.query(`SELECT pgmq.purge_queue($1)`, [`worker_${NS}_queue`]);
  });
});

describe('gRPC', () => {
  it('answers the standard grpc.health.v1 protocol to grpc-js', async () => {
    const standard = new StandardHealthClient(port('grpc'));
    try {
      expect(await standard.check('')).toBe(ServingStatus.SERVING);
      expect(await standard.check('liveness')).toBe(ServingStatus.SERVING);
      expect(await standard.check('readiness')).toBe(ServingStatus.SERVING);
      expect(await standard.check('tasker.v1.HealthService')).toBe(ServingStatus.SERVING);
      await expect(standard.check('tasker.v1.TaskService')).rejects.toMatchObject({ code: 5 }); // NOT_FOUND: not on a worker
      expect(await standard.watch('', 1)).toEqual([ServingStatus.SERVING]);
      expect(await standard.watch('no.such.Service', 1)).toEqual([ServingStatus.SERVICE_UNKNOWN]);
    } finally {
      standard.close();
    }
  });

  it.each(WIRES)('serves tasker.v1.HealthService over %s', async (wire) => {
    const health = healthClient(port('grpc'), wire);
    const live = await health.checkLiveness({});
    expect(live.status).toBe(HealthStatus.HEALTHY);
    expect(live.service).toBe(ServiceKind.WORKER);
    expect(live.instanceId).toBe(worker.workerId);
    const ready = await health.checkReadiness({});
    expect(ready.ready).toBe(true);
    expect(ready.checks.map((check) => check.name).sort()).toEqual(['claim_loop', 'database', 'event_loop', 'state']);
    const detailed = await health.getDetailedHealth({});
    expect(detailed.detail.case).toBe('worker');
    expect(detailed.database?.reachable).toBe(true);
    expect(detailed.queues.map((queue) => queue.namespace)).toEqual([NS]);
    if (detailed.detail.case !== 'worker') throw new Error('the detailed health of a worker has no worker detail');
    expect(detailed.detail.value.binding).toBe(worker.stats().binding);
    expect(detailed.detail.value.reporting).toBe(0n);
    expect(detailed.detail.value.claimSize).toBe(worker.stats().core?.claimSize);
  });
});

describe('readiness', () => {
  it('is lost while the event loop is blocked past the limit, and comes back', async () => {
    const { taskId } = await client.createTask({ namespace: NS, name: 'block' });
    await client.waitForTask(taskId, { timeoutMs: 30_000 });
    // The loop was blocked ~900 ms (limit 400 ms) within the last 1.5 s window.
    const ready = await get(port('web'), '/health/ready');
    expect(ready.status, ready.text).toBe(503);
    const checks = ready.json()['checks'] as { name: string; ok: boolean; message: string }[];
    expect(checks.find((check) => check.name === 'event_loop')).toMatchObject({ ok: false, message: expect.stringMatching(/^blocked for \d+ ms/) });
    expect((await get(port('web'), '/health')).status).toBe(200);
    await eventually('readiness to come back once the window passed', async () => (await get(port('web'), '/health/ready')).status === 200);
  });

  it('is lost while draining; liveness holds until the servers close with the worker', async () => {
    const { taskId } = await client.createTask({ namespace: NS, name: 'sleep' });
    await eventually('the sleeper to start', async () => worker.stats().running === 1);
    const web = port('web');
    const grpcPort = port('grpc');
    const stopped = worker.stop(10_000);
    const ready = await get(web, '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.json()['checks']).toContainEqual({ name: 'state', ok: false, message: 'draining: no new work is taken' });
    expect((await get(web, '/health')).status).toBe(200);
    const standard = new StandardHealthClient(grpcPort);
    try {
      expect(await standard.check('')).toBe(ServingStatus.NOT_SERVING);
      expect(await standard.check('liveness')).toBe(ServingStatus.SERVING);
    } finally {
      standard.close();
    }
    await stopped;
    expect((await client.getTask(taskId))?.state).toBe('complete');
    await expect(fetch(`http://127.0.0.1:${web}/health`)).rejects.toThrow();
    expect(logs.find((record) => record.message === 'worker started')?.fields).toMatchObject({
      rest: `127.0.0.1:${web}`,
      grpc: `127.0.0.1:${grpcPort}`,
    });
  });
});
