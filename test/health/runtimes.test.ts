/**
 * The servers on every runtime: a worker process and an orchestrator process on Node, Bun and
 * Deno (the built SDK, as users run it), each with its REST and gRPC servers on ports 0. The test
 * learns the ports from the `started` log line, then probes them the way operators and tools do:
 * fetch for REST, grpc-js for the standard gRPC health protocol over HTTP/2, connect-node for
 * tasker.v1 over gRPC, gRPC-Web and Connect (HTTP/1.1 and HTTP/2), and, for the orchestrator, a
 * task created over gRPC and run by the worker of the same runtime. SIGTERM must then stop each
 * process cleanly (exit 0), which also shows the servers let go of their connections.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJson } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthStatus, ServiceKind } from '../../sdk/src/gen/tasker/v1/health_pb.ts';
import { TaskState } from '../../sdk/src/gen/tasker/v1/tasks_pb.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';
import { eventually, get, healthClient, ServingStatus, StandardHealthClient, taskClient, WIRES } from './clients.ts';
import { parseExposition, valueOf } from './prometheus-text.ts';
import { launch } from '../support/runtime-launch.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = join(ROOT, 'test/health/fixtures/health-service.mjs');
const RUNTIMES = ['node', 'bun', 'deno'] as const;
type Runtime = (typeof RUNTIMES)[number];

interface Service {
  child: ChildProcessWithoutNullStreams;
  web: number;
  grpc: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

let db: TestDatabase;
const running: Service[] = [];

/** Starts the fixture and waits for its `started` line, which names the ports it bound. */
async function startService(runtime: Runtime, service: 'worker' | 'orchestrator', namespace: string): Promise<Service> {
  const [command, ...args] = launch(runtime, FIXTURE);
  const child = spawn(command ?? '', args, {
    env: { ...process.env, DATABASE_URL: db.url, SERVICE: service, TEST_NAMESPACE: namespace, TASKER_BINDING: 'napi' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started: Service = { child, web: 0, grpc: 0, stderr: () => stderr, exited };
  running.push(started);
  const message = service === 'worker' ? 'worker started' : 'orchestrator started';
  await eventually(`the ${runtime} ${service} to start`, async () => {
    if (child.exitCode !== null) throw new Error(`it exited with ${child.exitCode}:\n${stderr}`);
    for (const line of stderr.split('\n')) {
      if (!line.startsWith('{')) continue;
      const record = JSON.parse(line) as { message?: string; fields?: { rest?: string; grpc?: string } };
      if (record.message !== message) continue;
      started.web = Number(record.fields?.rest?.split(':').pop());
      started.grpc = Number(record.fields?.grpc?.split(':').pop());
      return true;
    }
    return false;
  }, 45_000);
  expect(started.web, stderr).toBeGreaterThan(0);
  expect(started.grpc, stderr).toBeGreaterThan(0);
  return started;
}

async function stopService(service: Service): Promise<void> {
  service.child.kill('SIGTERM');
  const code = await Promise.race([service.exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 30_000))]);
  expect(code, `it did not exit 0 on SIGTERM:\n${service.stderr()}`).toBe(0);
}

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  for (const service of running) if (service.child.exitCode === null) service.child.kill('SIGKILL');
  await db?.drop();
});

describe.each(RUNTIMES)('on %s', (runtime) => {
  it('a worker and an orchestrator serve REST and gRPC, and metrics', { timeout: 120_000 }, async () => {
    const namespace = `health_rt_${runtime}`;
    await registerTemplate(db.pool, template('echo', [{ name: 'only', handler: 'rt.echo' }], namespace));
    const worker = await startService(runtime, 'worker', namespace);
    const orchestrator = await startService(runtime, 'orchestrator', namespace);

    // REST
    expect((await get(worker.web, '/health')).json()).toMatchObject({ alive: true, service: 'worker' });
    await eventually('the worker to be ready', async () => (await get(worker.web, '/health/ready')).status === 200);
    const detailed = (await get(worker.web, '/health/detailed')).json();
    expect(detailed).toMatchObject({ runtime, service: 'worker', database: { reachable: true }, worker: { binding: 'napi', namespaces: [namespace] } });

    // gRPC: the standard health protocol through grpc-js, over HTTP/2.
    const standard = new StandardHealthClient(worker.grpc);
    try {
      expect(await standard.check('')).toBe(ServingStatus.SERVING);
      expect(await standard.watch('liveness', 1)).toEqual([ServingStatus.SERVING]);
    } finally {
      standard.close();
    }
    // tasker.v1 over every wire the port serves; three calls each, so a connection the server
    // drops after one request (Deno's HTTP/1.1 keep-alive, see grpc-server.ts) shows up.
    for (const wire of WIRES) {
      const health = healthClient(worker.grpc, wire);
      const live = await health.checkLiveness({});
      expect({ wire, status: live.status, service: live.service }).toEqual({ wire, status: HealthStatus.HEALTHY, service: ServiceKind.WORKER });
      expect({ wire, ready: (await health.checkReadiness({})).ready }).toEqual({ wire, ready: true });
      expect({ wire, runtime: (await health.getDetailedHealth({})).runtime }).toEqual({ wire, runtime });
    }

    // A task created through the orchestrator's TaskService, run by this runtime's worker.
    await eventually('the orchestrator to be ready', async () => (await get(orchestrator.web, '/health/ready')).status === 200);
    const tasks = taskClient(orchestrator.grpc);
    const { taskId } = await tasks.createTask({ namespace, name: 'echo', context: { value: runtime } });
    await eventually('the task to complete', async () => (await tasks.getTask({ taskId })).task?.state === TaskState.COMPLETE);
    const { task } = await tasks.getTask({ taskId });
    const result = task?.steps[0]?.result;
    expect(result === undefined ? undefined : toJson(ValueSchema, result)).toEqual({ echoed: runtime });

    const metrics = parseExposition((await get(worker.web, '/metrics')).text);
    expect(valueOf(metrics, 'tasker_steps_succeeded_total', { namespace, handler: 'rt.echo' })).toBe(1);
    expect(valueOf(metrics, 'tasker_step_duration_seconds_count', { namespace, handler: 'rt.echo', outcome: 'success' })).toBe(1);
    expect(valueOf(metrics, 'tasker_info', { runtime })).toBe(1);

    await stopService(worker);
    await stopService(orchestrator);
  });
});
