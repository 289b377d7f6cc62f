#!/usr/bin/env node
// Runs bench/worker-core.ts on every runtime × binding, one after another (so they never share
// the two cores), and writes the figures with the commands that produced them to
// bench/results/worker-core.md. Usage: node bench/run-all.mjs [--tasks N] [--round-trips N]
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

const args = process.argv.slice(2);
const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
const runtimes = {
  node: (binding) => ['node', ['bench/dist/worker-core.js', '--binding', binding, ...args]],
  bun: (binding) => [bin('bun'), ['bench/worker-core.ts', '--binding', binding, ...args]],
  deno: (binding) => [bin('deno'), ['run', '-A', 'bench/worker-core.ts', '--binding', binding, ...args]],
};
const rows = [];
for (const [runtime, command] of Object.entries(runtimes)) {
  for (const binding of ['napi', 'ffi', 'pg']) {
    const [file, argv] = command(binding);
    const shown = `${file.replace(/.*node_modules\/\.bin\//, '')} ${argv.join(' ')}`;
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
const table = [
  '| runtime | binding | echo (µs) | round trip, batch 1 (µs/step) | round trip, batch 50 (µs/step) | throughput (steps/s) | command |',
  '|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.runtime} | ${r.binding} | ${r.echo_us} | ${r.round_trip_batch1_us} | ${r.round_trip_batch50_us} | ${r.throughput_steps_per_s} | \`${r.command}\` |`),
].join('\n');
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/worker-core.md',
  `# Worker core: crossing, round trip, throughput\n\nRecorded ${new Date().toISOString()} by \`node bench/run-all.mjs ${args.join(' ')}\` on ` +
    `${cpus().length} cores / ${Math.round(totalmem() / 2 ** 30)} GiB, ${pgVersion} (embedded, default settings: fsync and synchronous_commit on) on the same cores.\n` +
    `Throughput: ${rows[0]?.tasks ?? '?'} pre-created single-step tasks, one worker process, default core settings, ${rows[0]?.concurrency ?? '?'} no-op handler slots.\n\n${table}\n`,
);
console.log('\nwrote bench/results/worker-core.md');
