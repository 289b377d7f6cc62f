/**
 * Latency benchmark (issue 4): one Worker and one TaskerClient in this process, on an idle
 * system, event-driven (EventDrivenOnly: woken by LISTEN/NOTIFY only).
 *
 *   - workflow: a 4-step linear workflow, from createTask to waitForTask seeing it complete
 *     (p50, p95, p99 over --runs runs, one at a time), and to the last handler's end;
 *   - start: enqueue-to-handler-start for single-step tasks arriving one at a time: from just
 *     before createTask to the first line of the handler (p50, p95).
 *
 *   node bench/dist/latency.js --binding napi      (after npm run build)
 *   bun bench/latency.ts --binding napi
 *   deno run -A bench/latency.ts --binding napi
 *
 * Options: --runs N (default 300), --warmup N (default 30), --binding napi|ffi|pg.
 * Prints one JSON line. PostgreSQL: DATABASE_URL, else the embedded server; a throwaway
 * database is created and dropped.
 */
import { parseArgs } from 'node:util';
import {
  TaskerClient,
  Worker,
  createDatabase,
  defineHandler,
  dropDatabase,
  registerTemplate,
  resolveDatabase,
  runMigrations,
  withDatabaseName,
} from '@tasker/sdk';
import type { BindingName } from '@tasker/sdk/binding';
import pg from 'pg';
import { percentile } from './stats.ts';

const { values } = parseArgs({
  options: {
    binding: { type: 'string', default: 'napi' },
    runs: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '30' },
  },
});
const runs = Number(values.runs);
const warmup = Number(values.warmup);
const binding = values.binding as BindingName;

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.version}`;
}

function summary(samples: number[]): { p50: number; p95: number; p99: number; min: number; max: number } {
  return {
    p50: percentile(samples, 0.5),
    p95: percentile(samples, 0.95),
    p99: percentile(samples, 0.99),
    min: percentile(samples, 0),
    max: percentile(samples, 1),
  };
}

const NS = 'latency_bench';
const started = new Map<string, number>();
const finished = new Map<string, number>();

const handlers = [
  defineHandler('bench.first', () => 1),
  defineHandler('bench.second', (ctx) => Number(ctx.dependencyResults['first']) + 1),
  defineHandler('bench.third', (ctx) => Number(ctx.dependencyResults['second']) + 1),
  defineHandler('bench.fourth', (ctx) => {
    finished.set(ctx.taskId, performance.now());
    return Number(ctx.dependencyResults['third']) + 1;
  }),
  defineHandler('bench.single', (ctx) => {
    started.set(ctx.taskId, performance.now());
    return null;
  }),
];

async function main(): Promise<void> {
  const server = await resolveDatabase();
  const name = `tasker_latency_${process.pid}`;
  await createDatabase(server.url, name);
  const url = withDatabaseName(server.url, name);
  const worker = new Worker({
    databaseUrl: url,
    namespaces: [NS],
    handlers,
    binding,
    mode: 'EventDrivenOnly',
    concurrency: 10,
    handleSignals: false,
    logWriter: () => {},
  });
  const client = new TaskerClient({ databaseUrl: url });
  try {
    await runMigrations({ databaseUrl: url, log: () => {} });
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    await registerTemplate(admin, {
      namespace: NS,
      name: 'linear4',
      version: '1.0.0',
      steps: [
        { name: 'first', handler: 'bench.first' },
        { name: 'second', handler: 'bench.second', dependencies: ['first'] },
        { name: 'third', handler: 'bench.third', dependencies: ['second'] },
        { name: 'fourth', handler: 'bench.fourth', dependencies: ['third'] },
      ],
    });
    await registerTemplate(admin, { namespace: NS, name: 'single', version: '1.0.0', steps: [{ name: 'only', handler: 'bench.single' }] });
    await admin.end();
    await worker.start();

    const workflow: number[] = [];
    const lastHandler: number[] = [];
    for (let i = 0; i < warmup + runs; i += 1) {
      const t0 = performance.now();
      const { taskId } = await client.createTask({ namespace: NS, name: 'linear4' });
      const task = await client.waitForTask(taskId, { timeoutMs: 30_000 });
      const t1 = performance.now();
      if (task.state !== 'complete') throw new Error(`task ${taskId} ended ${task.state}`);
      if (i >= warmup) {
        workflow.push(t1 - t0);
        lastHandler.push((finished.get(taskId) ?? NaN) - t0);
      }
    }

    const start: number[] = [];
    for (let i = 0; i < warmup + runs; i += 1) {
      const t0 = performance.now();
      const { taskId } = await client.createTask({ namespace: NS, name: 'single' });
      await client.waitForTask(taskId, { timeoutMs: 30_000 });
      // Idle between arrivals, as a lone step would find the worker.
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (i >= warmup) start.push((started.get(taskId) ?? NaN) - t0);
    }

    console.log(
      JSON.stringify({
        runtime: runtime(),
        binding,
        runs,
        workflow_4_steps_ms: summary(workflow),
        workflow_to_last_handler_ms: summary(lastHandler),
        enqueue_to_start_ms: summary(start),
      }),
    );
  } finally {
    await worker.stop(5_000).catch(() => {});
    await client.close();
    await dropDatabase(server.url, name).catch(() => {});
    await server.release();
  }
}

await main();
