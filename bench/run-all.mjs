#!/usr/bin/env node
// Runs bench/worker-core.ts on every runtime × binding, one after another (so they never share
// the two cores), and writes the figures with the commands that produced them to
// bench/results/worker-core.md. Usage: node bench/run-all.mjs --help
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runtimeCommand } from '@tasker/sdk';

const USAGE = `Usage: node bench/run-all.mjs [--runtimes node,bun,deno] [--bindings napi,ffi,pg] [worker-core options]

Runs bench/worker-core.ts for each runtime × binding (default: all nine), one at a time, and writes
bench/results/worker-core.md with the figures and the command of each. Build first (npm run build,
node native/build.mjs). Worker-core options, passed on to every run:
  --tasks N          tasks of the throughput run (default 20000)
  --round-trips N    steps of each round-trip run (default 2000)
  --concurrency N    handler slots of the throughput run (default 10)
  --only PARTS       echo,rt1,rt50,tp: run only these parts (default all)
PostgreSQL: DATABASE_URL, else the embedded server.`;

/** Takes `--name value` out of argv; the rest goes to worker-core. */
function option(argv, name, fallback) {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const [, value] = argv.splice(at, 2);
  if (value === undefined) throw new Error(`${name} needs a value\n\n${USAGE}`);
  return value.split(',');
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const shownArgs = args.join(' ');
const onlyRuntimes = option(args, '--runtimes', ['node', 'bun', 'deno']);
const onlyBindings = option(args, '--bindings', ['napi', 'ffi', 'pg']);
const loadBefore = loadavg();
const BIN = fileURLToPath(new URL('../node_modules/.bin/', import.meta.url));
// Node runs the compiled benchmark, Bun and Deno its source.
const scripts = { node: 'bench/dist/worker-core.js', bun: 'bench/worker-core.ts', deno: 'bench/worker-core.ts' };
const rows = [];
for (const [runtime, script] of Object.entries(scripts)) {
  if (!onlyRuntimes.includes(runtime)) continue;
  for (const binding of onlyBindings) {
    const { command: file, args: argv } = runtimeCommand(runtime, script, ['--binding', binding, ...args], BIN);
    const shown = `${runtime} ${argv.join(' ')}`;
    process.stdout.write(`${shown} ... `);
    const run = spawnSync(file, argv, { encoding: 'utf8', maxBuffer: 64 << 20 });
    const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
    if (run.status !== 0 || line === undefined) {
      console.log(`FAILED (exit ${run.status})\n${run.stderr.slice(-2000)}`);
      process.exitCode = 1;
      continue;
    }
    const result = JSON.parse(line);
    console.log(line);
    rows.push({ ...result, command: shown });
  }
}
const status = execFileSync('node', ['sdk/dist/cli/tasker-ctl.js', 'db', 'status'], { encoding: 'utf8' });
const pgVersion = `PostgreSQL ${status.match(/^version:\s*([0-9.]+)/m)?.[1] ?? '(version unknown)'}`;
const loadAfter = loadavg();
const shown = (value) => value ?? '–';
const table = [
  '| runtime | binding | echo (µs) | empty next (µs) | round trip, batch 1 (µs/step) | round trip, batch 50 (µs/step) | throughput (steps/s) | client CPU (µs/step) | claim / report round trips | command |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.runtime} | ${r.binding} | ${shown(r.echo_us)} | ${shown(r.empty_next_us)} | ${shown(r.round_trip_batch1_us)} | ${shown(r.round_trip_batch50_us)} | ` +
      `${shown(r.throughput_steps_per_s)} | ${shown(r.client_cpu_us_per_step)} | ${shown(r.claim_round_trips)} / ${shown(r.report_round_trips)} | \`${r.command}\` |`,
  ),
].join('\n');
const load = (l) => l.map((n) => n.toFixed(2)).join(' ');
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/worker-core.md',
  `# Worker core: crossing, round trip, throughput\n\nRecorded ${new Date().toISOString()} by \`node bench/run-all.mjs ${shownArgs}\` on ` +
    `${cpus().length} cores / ${Math.round(totalmem() / 2 ** 30)} GiB, ${pgVersion} (embedded, default settings: fsync and synchronous_commit on) on the same cores.\n` +
    `Machine load (1, 5, 15-minute load averages): ${load(loadBefore)} at the start, ${load(loadAfter)} at the end.\n` +
    `Throughput: ${rows[0]?.tasks ?? '?'} pre-created single-step tasks, one worker process, default core settings, ${rows[0]?.concurrency ?? '?'} no-op handler slots.\n\n${table}\n`,
);
console.log('\nwrote bench/results/worker-core.md');
