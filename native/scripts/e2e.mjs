#!/usr/bin/env node
// End-to-end check of the napi addon against a real database (migrated with tasker-ctl migrate):
// registers templates in a namespace of its own, creates tasks with the SQL protocol, runs them
// through NativeWorkerCore.next/report until every task is complete, and checks every step
// completed exactly once. Then measures report and hand-out latency and the crossing cost.
//
//   DATABASE_URL=postgres://… node native/scripts/e2e.mjs [--tasks 200] [--soak 10]
//
// --soak N additionally runs N seconds of continuous work and prints RSS along the way.
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const pg = require('pg');
const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonFile = readdirSync(nativeDir).find((f) => f.startsWith(`tasker-native.${process.platform}-${process.arch}`) && f.endsWith('.node'));
if (addonFile === undefined) throw new Error('no addon in native/: run node native/build.mjs');
const addon = require(join(nativeDir, addonFile));

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '200' }, soak: { type: 'string', default: '0' } } });
const TASKS = Number(values.tasks);
const SOAK_S = Number(values.soak);
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('set DATABASE_URL');

const ns = `e2e_${randomBytes(4).toString('hex')}`;
const pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exitCode = 1;
}

async function register(template) {
  await pool.query('SELECT * FROM tasker.register_template($1::jsonb)', [JSON.stringify(template)]);
}

async function createTasks(name, count) {
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, j) =>
        pool.query('SELECT * FROM tasker.create_task($1, $2, NULL, $3::jsonb)', [ns, name, JSON.stringify({ n: i + j })]),
      ),
    );
  }
}

const success = (step, result = { ok: true }) =>
  JSON.stringify({ stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success', result });

async function create(overrides = {}) {
  return addon.NativeWorkerCore.create(JSON.stringify({ databaseUrl, workerId: `e2e-${ns}`, namespaces: [ns], ...overrides }));
}

async function taskStates() {
  const { rows } = await pool.query(
    `SELECT t.state, count(*)::int AS n FROM tasker.tasks t JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
     WHERE n.name = $1 GROUP BY t.state`,
    [ns],
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** Works until `done()`; reports every step of a batch at once. */
async function work(core, done, onStep = () => {}) {
  const deadline = Date.now() + 120_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('work loop timed out');
    const steps = JSON.parse(await core.next(16, 100));
    await Promise.all(
      steps.map(async (step) => {
        onStep(step);
        const result = JSON.parse(await core.report(success(step, { from: step.stepName })));
        if (!result.accepted) fail(`report rejected: ${result.reason}`);
      }),
    );
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function summary(label, micros) {
  const sorted = [...micros].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  console.log(
    `${label}: n=${sorted.length} mean=${mean.toFixed(0)} µs p50=${percentile(sorted, 0.5).toFixed(0)} µs p99=${percentile(sorted, 0.99).toFixed(0)} µs`,
  );
}

try {
  await register({
    namespace: ns,
    name: 'chain',
    version: '1.0.0',
    steps: [
      { name: 'a', handler: 'e2e.a' },
      { name: 'b', handler: 'e2e.b', dependencies: ['a'] },
      { name: 'c', handler: 'e2e.c', dependencies: ['a'] },
      { name: 'd', handler: 'e2e.d', dependencies: ['b', 'c'] },
    ],
  });
  await register({ namespace: ns, name: 'single', version: '1.0.0', steps: [{ name: 'only', handler: 'e2e.only' }] });

  // 1. Correctness: TASKS diamonds (4 steps each) through one core.
  await createTasks('chain', TASKS);
  const core = await create({ batchSize: 16 });
  const handed = new Map();
  const started = performance.now();
  await work(
    core,
    async () => (await taskStates()).complete === TASKS,
    (step) => handed.set(step.stepId, (handed.get(step.stepId) ?? 0) + 1),
  );
  const seconds = (performance.now() - started) / 1000;
  const { rows: completions } = await pool.query(
    `SELECT x.step_id, count(*)::int AS n FROM tasker.step_transitions x
     JOIN tasker.workflow_steps s ON s.step_id = x.step_id JOIN tasker.tasks t ON t.task_id = s.task_id
     JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
     WHERE n.name = $1 AND x.to_state = 'complete' GROUP BY x.step_id`,
    [ns],
  );
  if (completions.length !== TASKS * 4) fail(`${completions.length} steps completed, expected ${TASKS * 4}`);
  if (completions.some((r) => r.n !== 1)) fail('a step completed more than once');
  if ([...handed.values()].some((n) => n !== 1)) fail('a step was handed out twice');
  const stats = JSON.parse(core.stats());
  console.log(`diamonds: ${TASKS} tasks, ${TASKS * 4} steps in ${seconds.toFixed(2)} s (${((TASKS * 4) / seconds).toFixed(0)} steps/s)`);
  console.log(`stats: ${JSON.stringify(stats)}`);
  if (stats.reported !== TASKS * 4 || stats.inFlight !== 0 || stats.rejected !== 0) fail('stats disagree');
  const drained = JSON.parse(await core.drain(5_000));
  if (drained.abandoned !== 0) fail(`drain abandoned ${drained.abandoned}`);

  // 2. Latency: one step at a time.
  const lone = await create({ mode: 'Hybrid' });
  const reportUs = [];
  const createToHandedUs = [];
  for (let i = 0; i < 200; i += 1) {
    const t0 = performance.now();
    await pool.query('SELECT * FROM tasker.create_task($1, $2, NULL, $3::jsonb)', [ns, 'single', '{}']);
    const [step] = JSON.parse(await lone.next(1, 5_000));
    const t1 = performance.now();
    if (step === undefined) {
      fail('no step within 5 s');
      break;
    }
    const result = JSON.parse(await lone.report(success(step)));
    const t2 = performance.now();
    if (!result.accepted) fail('lone report rejected');
    createToHandedUs.push((t1 - t0) * 1000);
    reportUs.push((t2 - t1) * 1000);
  }
  summary('create_task → next() resolves (NOTIFY + claim)', createToHandedUs);
  summary('report() round trip (one report_steps)', reportUs);
  await lone.drain(5_000);

  // 3. Crossing cost.
  const payload = 'x'.repeat(64);
  for (let i = 0; i < 10_000; i += 1) addon.echoSync(payload);
  let t = performance.now();
  const N = 200_000;
  for (let i = 0; i < N; i += 1) addon.echoSync(payload);
  console.log(`echoSync (64 B): ${(((performance.now() - t) * 1e6) / N).toFixed(0)} ns per call`);
  t = performance.now();
  const M = 20_000;
  for (let i = 0; i < M; i += 1) await addon.echo(payload);
  console.log(`echo (async, 64 B): ${(((performance.now() - t) * 1000) / M).toFixed(1)} µs per call`);

  // 4. Optional soak: steady work, RSS sampled.
  if (SOAK_S > 0) {
    const soak = await create({ batchSize: 16 });
    const end = Date.now() + SOAK_S * 1000;
    const rss = [];
    let done = 0;
    const feeder = (async () => {
      while (Date.now() < end) {
        await createTasks('single', 100);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const sampler = setInterval(() => rss.push(process.memoryUsage()), 1000);
    await work(soak, async () => Date.now() >= end, () => {
      done += 1;
    });
    clearInterval(sampler);
    await feeder;
    await soak.drain(5_000);
    const mb = (key) => rss.map((m) => (m[key] / 1048576).toFixed(1)).join(' ');
    console.log(`soak ${SOAK_S} s: ${done} steps`);
    console.log(`  RSS MB, each second:       ${mb('rss')}`);
    console.log(`  JS heap used MB (V8 part): ${mb('heapUsed')}`);
  }
} finally {
  await pool.end();
}
if (process.exitCode) console.error('e2e FAILED');
else console.log('e2e OK');
