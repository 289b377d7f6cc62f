/**
 * Leak check: 100,000 claim + report cycles through one binding's WorkerCore.next()/report(), in
 * a process of its own; the resident set size must grow by less than 20 MB (10^6 bytes) between
 * a sample taken after a warm-up of 5,000 cycles and one taken after the 100,000.
 *
 *   node --expose-gc --min-semi-space-size=1 --max-semi-space-size=1 bench/dist/leak-check.js --binding napi
 *   bun bench/leak-check.ts --binding ffi
 *   deno run -A --v8-flags=--expose-gc,--min-semi-space-size=1,--max-semi-space-size=1 bench/leak-check.ts --binding pg
 *
 * (Node needs `npm run build` first.) `--expose-gc` lets the samples follow a full collection
 * (Bun always can). The small fixed young generation matters on V8: by default V8 sizes it between
 * 1 and 16 MB per semi-space (Deno: more) by allocation rate, growing it long after the warm-up
 * and shrinking it after a collection when the machine is slow, so RSS swung by up to 54 MB with
 * the live heap flat at ~10 MB (measured). With 1 MB semi-spaces the swing is under 1 MB; a young
 * generation holds no live data after a full collection anyway, so nothing a leak holds is hidden.
 *
 * Options: --cycles N (default 100000), --warmup N (default 5000), --limit-mb N (default 20),
 * --batch N (most steps per next(), default 50), --trace N (also sample every N measured cycles,
 * printed to stderr, the pauses counting in "seconds": tells a leak, growing steadily, from an
 * allocator settling, which levels off), --database-url URL (a database to use as it is;
 * otherwise DATABASE_URL or the embedded server, in a throwaway database created and dropped).
 * Prints one JSON line with the figures; exits 1 when the growth reaches the limit or the run
 * fails. test/binding/leak-check.test.ts runs it per binding on Node; bench/run-leak-check.mjs
 * runs every runtime × binding and records bench/results/leak-check.md.
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { createDatabase, dropDatabase, resolveDatabase, runMigrations, withDatabaseName } from '@tasker/sdk';
import { loadBinding } from '@tasker/sdk/binding';
import { gcMethod, settledSample, type MemorySample } from './leak-memory.ts';
import { completedSteps, createSteps, LEAK_NAMESPACE, runCycles } from './leak-workload.ts';

const MB = 1_000_000;

const { values } = parseArgs({
  options: {
    binding: { type: 'string', default: 'napi' },
    cycles: { type: 'string', default: '100000' },
    warmup: { type: 'string', default: '5000' },
    'limit-mb': { type: 'string', default: '20' },
    batch: { type: 'string', default: '50' },
    trace: { type: 'string' },
    'database-url': { type: 'string' },
  },
});

function count(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

const cycles = count('cycles', values.cycles);
const warmup = count('warmup', values.warmup);
const limitMb = count('limit-mb', values['limit-mb']);
const batch = count('batch', values.batch);
const traceEvery = values.trace === undefined ? cycles : count('trace', values.trace);

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.version}`;
}

/** The database to work in, and how to give it back. */
async function database(): Promise<{ url: string; release(): Promise<void> }> {
  const given = values['database-url'];
  if (given !== undefined) return { url: given, release: async () => {} };
  const server = await resolveDatabase();
  const name = `tasker_leak_${process.pid}`;
  await createDatabase(server.url, name);
  return {
    url: withDatabaseName(server.url, name),
    release: async () => {
      try {
        await dropDatabase(server.url, name);
      } finally {
        await server.release();
      }
    },
  };
}

const seconds = (since: number): number => Number(((performance.now() - since) / 1000).toFixed(1));

if (gcMethod() === 'none') {
  console.error('[leak-check] this runtime cannot force a collection (node --expose-gc, deno --v8-flags=--expose-gc): samples are noisier');
}

const db = await database();
try {
  await runMigrations({ databaseUrl: db.url, mode: 'standard', log: () => {} });
  const binding = await loadBinding(values.binding, { allowFallback: false });
  let started = performance.now();
  // Enough that the core's prefetch never runs dry before the last cycle.
  const created = await createSteps(db.url, warmup + cycles + 4 * batch);
  const createSeconds = seconds(started);

  const core = await binding.createWorkerCore({
    databaseUrl: db.url,
    workerId: `leak-${binding.name}`,
    namespaces: [LEAK_NAMESPACE],
    batchSize: batch,
    prefetch: 2 * batch,
  });
  started = performance.now();
  await runCycles(core, warmup, batch);
  const warmupSeconds = seconds(started);
  const before = await settledSample();
  const trace = (done: number, sample: MemorySample): void => {
    if (values.trace !== undefined) {
      console.error(`[leak-check] after ${done} cycles: rss ${(sample.rss / MB).toFixed(1)} MB, heap used ${(sample.heapUsed / MB).toFixed(1)} MB`);
    }
  };
  trace(0, before);
  started = performance.now();
  for (let done = 0; done < cycles; done += traceEvery) {
    await runCycles(core, Math.min(traceEvery, cycles - done), batch);
    if (done + traceEvery < cycles) trace(done + traceEvery, await settledSample());
  }
  const cycleSeconds = seconds(started);
  const after = await settledSample();
  trace(cycles, after);
  const stats = core.stats();
  await core.drain(10_000);

  const complete = await completedSteps(db.url);
  if (complete !== warmup + cycles || stats.reported !== warmup + cycles) {
    throw new Error(`${warmup + cycles} cycles ran, but ${complete} steps are complete and the core counted ${stats.reported} reports`);
  }
  const growthMb = Number(((after.rss - before.rss) / MB).toFixed(2));
  const passed = growthMb < limitMb;
  console.log(
    JSON.stringify({
      runtime: runtime(),
      binding: binding.name,
      cycles,
      warmup,
      batch,
      seconds: cycleSeconds,
      cycles_per_s: Math.round(cycles / cycleSeconds),
      warmup_seconds: warmupSeconds,
      steps_created: created,
      create_seconds: createSeconds,
      gc: gcMethod(),
      rss_before: before.rss,
      rss_after: after.rss,
      growth_mb: growthMb,
      heap_before: before.heapUsed,
      heap_after: after.heapUsed,
      limit_mb: limitMb,
      passed,
    }),
  );
  if (!passed) {
    console.error(`RSS grew by ${growthMb} MB over ${cycles} cycles (limit: less than ${limitMb} MB)`);
    process.exitCode = 1;
  }
} finally {
  await db.release();
}
