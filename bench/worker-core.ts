/**
 * Worker-core benchmark: the crossing cost, what next(1, 0) costs with nothing buffered, one
 * claim + report round trip with a no-op handler at batch 1 and at batch 50 (µs per step), and
 * the throughput of one worker process over N pre-created single-step tasks (steps/s), for one
 * binding on the runtime running this file.
 *
 *   node bench/dist/worker-core.js --binding napi      (after npm run build)
 *   bun bench/worker-core.ts --binding ffi
 *   deno run -A bench/worker-core.ts --binding pg
 *
 * Options: --tasks N (throughput, default 20000), --round-trips N (default 2000), --concurrency N
 * (handler slots during the throughput run, default 10), --only echo,rt1,rt50,tp (run only these
 * parts; default all). It prints one JSON line with the figures
 * and the command; bench/run-all.mjs runs every runtime × binding and records the table.
 * PostgreSQL: DATABASE_URL, else the embedded server; a throwaway database is created and dropped.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDatabase, dropDatabase, resolveDatabase, runMigrations, withDatabaseName } from '@tasker/sdk';
import { loadBinding, type BindingModule, type WorkerCore } from '@tasker/sdk/binding';
import { maxReportsInFlight } from '@tasker/sdk/worker';

const { values } = parseArgs({
  options: {
    binding: { type: 'string', default: 'napi' },
    tasks: { type: 'string', default: '20000' },
    'round-trips': { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '10' },
    only: { type: 'string', default: 'echo,rt1,rt50,tp' },
  },
});
const parts = new Set(values.only.split(','));
const tasks = Number(values.tasks);
const roundTrips = Number(values['round-trips']);
const concurrency = Number(values.concurrency);

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.version}`;
}

/** Creates `count` single-step tasks in namespace `ns`, in transactions of 1,000. */
async function createTasks(pool: pg.Pool, ns: string, count: number): Promise<void> {
  await pool.query('SELECT * FROM tasker.register_template($1::jsonb)', [
    JSON.stringify({ namespace: ns, name: 'noop', version: '1.0.0', steps: [{ name: 'only', handler: 'noop' }] }),
  ]);
  for (let done = 0; done < count; done += 1000) {
    await pool.query(
      "SELECT count(*) FROM (SELECT tasker.create_task($1, 'noop', NULL, '{}'::jsonb) FROM generate_series(1, $2)) x",
      [ns, Math.min(1000, count - done)],
    );
  }
  await pool.query('ANALYZE');
}

/** Claims and reports `count` steps, `batch` at a time, reporting each batch together. Returns µs/step. */
async function roundTrip(core: WorkerCore, count: number, batch: number): Promise<number> {
  const started = performance.now();
  let done = 0;
  while (done < count) {
    const steps = await core.next(batch, 5000);
    if (steps.length === 0) throw new Error(`no step within 5 s after ${done} of ${count}`);
    await Promise.all(
      steps.map((s) => core.report({ stepId: s.stepId, attempt: s.attempt, delivery: s.delivery, outcome: 'success' })),
    );
    done += steps.length;
  }
  return ((performance.now() - started) * 1000) / count;
}

/**
 * Runs `count` steps through `slots` concurrent no-op handlers, the way the Worker runs them: a
 * slot takes its next step as soon as its handler is done, without waiting for the report's
 * commit, and no slot takes one while `maxReporting` reports are unanswered (the Worker's bound,
 * maxReportsInFlight). Returns steps/s.
 */
async function throughput(core: WorkerCore, count: number, slots: number, maxReporting: number): Promise<number> {
  const started = performance.now();
  let taken = 0;
  const reporting = new Set<Promise<void>>();
  await Promise.all(
    Array.from({ length: slots }, async () => {
      while (taken < count) {
        while (reporting.size >= maxReporting) await Promise.race(reporting);
        const [step] = await core.next(1, 1000);
        if (step === undefined) continue;
        taken += 1;
        const report: Promise<void> = core
          .report({ stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success' })
          .then((result) => {
            reporting.delete(report);
            if (!result.accepted) throw new Error(`throughput: the report of ${step.stepId} was rejected`);
          });
        reporting.add(report);
      }
    }),
  );
  await Promise.all(reporting);
  return (count * 1000) / (performance.now() - started);
}

async function crossing(binding: BindingModule, calls: number): Promise<number> {
  const payload = 'x'.repeat(64);
  for (let i = 0; i < 1000; i += 1) await binding.echo(payload);
  const started = performance.now();
  for (let i = 0; i < calls; i += 1) await binding.echo(payload);
  return ((performance.now() - started) * 1000) / calls;
}

/**
 * What `next(1, 0)` costs when nothing is buffered (µs per call): the check a handler slot makes
 * before it waits. It must answer at once, without a timer (the C ABI's took up to a millisecond
 * of the JS thread before the fix in native/src/core.rs).
 */
async function emptyNext(core: WorkerCore, calls: number): Promise<number> {
  for (let i = 0; i < 100; i += 1) await core.next(1, 0);
  const started = performance.now();
  for (let i = 0; i < calls; i += 1) {
    const steps = await core.next(1, 0);
    if (steps.length > 0) throw new Error('emptyNext: a step was buffered in a namespace with no tasks');
  }
  return ((performance.now() - started) * 1000) / calls;
}

const server = await resolveDatabase();
const name = `tasker_bench_${process.pid}`;
await createDatabase(server.url, name);
const url = withDatabaseName(server.url, name);
const pool = new pg.Pool({ connectionString: url, max: 2 });
try {
  await runMigrations({ databaseUrl: url, mode: 'standard' });
  const binding = await loadBinding(values.binding);
  const result: Record<string, number | string> = { runtime: runtime(), binding: binding.name };
  if (parts.has('echo')) {
    result['echo_us'] = Number((await crossing(binding, 10_000)).toFixed(2));
    await createTasks(pool, 'bench_empty', 0); // the namespace only
    const core = await binding.createWorkerCore({ databaseUrl: url, workerId: 'bench', namespaces: ['bench_empty'] });
    result['empty_next_us'] = Number((await emptyNext(core, 1_000)).toFixed(2));
    await core.drain(5000);
  }

  if (parts.has('rt1')) {
    await createTasks(pool, 'bench_rt1', roundTrips);
    const core = await binding.createWorkerCore({ databaseUrl: url, workerId: 'bench', namespaces: ['bench_rt1'], batchSize: 1, prefetch: 1 });
    result['round_trip_batch1_us'] = Math.round(await roundTrip(core, roundTrips, 1));
    await core.drain(5000);
  }

  if (parts.has('rt50')) {
    await createTasks(pool, 'bench_rt50', roundTrips);
    const core = await binding.createWorkerCore({ databaseUrl: url, workerId: 'bench', namespaces: ['bench_rt50'], batchSize: 50, prefetch: 100 });
    result['round_trip_batch50_us'] = Math.round(await roundTrip(core, roundTrips, 50));
    await core.drain(5000);
  }

  if (parts.has('tp')) {
    await createTasks(pool, 'bench_tp', tasks);
    const config = { databaseUrl: url, workerId: 'bench', namespaces: ['bench_tp'] };
    const core = await binding.createWorkerCore(config);
    // CPU of this process (every thread: JS, the native core's, libuv's) per step: what the
    // binding costs the machine besides PostgreSQL's own work.
    const cpu = process.cpuUsage();
    result['throughput_steps_per_s'] = Math.round(await throughput(core, tasks, concurrency, maxReportsInFlight(config)));
    const used = process.cpuUsage(cpu);
    result['client_cpu_us_per_step'] = Math.round((used.user + used.system) / tasks);
    result['tasks'] = tasks;
    result['concurrency'] = concurrency;
    const stats = core.stats();
    result['claim_round_trips'] = stats.claimRoundTrips;
    result['report_round_trips'] = stats.reportRoundTrips;
    await core.drain(5000);
  }
  console.log(JSON.stringify(result));
} finally {
  await pool.end();
  await dropDatabase(server.url, name);
  await server.release();
}
