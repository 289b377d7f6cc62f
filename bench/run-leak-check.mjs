#!/usr/bin/env node
// Runs the leak check (bench/leak-check.ts) on every runtime × binding, one after another (so
// they never share the two cores), and writes the figures with the commands that produced them
// to bench/results/leak-check.md. Exits 1 if any cell fails or leaks.
// Usage: npm run bench:leak [-- --cycles N --warmup N]  (tsc -b bench, then this file)
//
// V8 runtimes run with a small fixed young generation (1 MB semi-spaces) and --expose-gc; why:
// see bench/leak-check.ts. Bun (JavaScriptCore) needs neither; Bun.gc(true) is built in.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import pg from 'pg';
import { resolveDatabase } from '../sdk/dist/index.js';

const args = process.argv.slice(2);
const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
const V8_FLAGS = ['--expose-gc', '--min-semi-space-size=1', '--max-semi-space-size=1'];
const runtimes = {
  node: (binding) => ['node', [...V8_FLAGS, 'bench/dist/leak-check.js', '--binding', binding, ...args]],
  bun: (binding) => [bin('bun'), ['bench/leak-check.ts', '--binding', binding, ...args]],
  deno: (binding) => [bin('deno'), ['run', '-A', `--v8-flags=${V8_FLAGS.join(',')}`, 'bench/leak-check.ts', '--binding', binding, ...args]],
};

/** Bound of a whole cell (100,000 unbatched koffi reports took ~10 min), and how soon a cell must exit once it printed its figures. */
const CELL_TIMEOUT_MS = 30 * 60_000;
const EXIT_GRACE_MS = 60_000;

/**
 * Runs one cell. A process that printed its figures but does not exit (something still holds its
 * event loop after drain) is killed after EXIT_GRACE_MS and marked `hung`, so one such bug costs a
 * minute and is reported instead of stalling the whole run.
 */
function runCell(file, argv, env) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hung = false;
    let timedOut = false;
    let grace;
    const deadline = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, CELL_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
      if (grace === undefined && /^\{/m.test(stdout)) {
        grace = setTimeout(() => {
          hung = true;
          child.kill('SIGKILL');
        }, EXIT_GRACE_MS);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(deadline);
      clearTimeout(grace);
      resolve({ status, signal, stdout, stderr, hung, timedOut, wall: Math.round((Date.now() - started) / 1000) });
    });
  });
}

// One server for every cell: DATABASE_URL, or the embedded server (started once, not per cell).
const server = await resolveDatabase();
const serverKind = server.embedded === undefined ? 'DATABASE_URL' : 'embedded';
const rows = [];
let pgVersion = '(version unknown)';
try {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  pgVersion = (await client.query('SHOW server_version')).rows[0].server_version;
  await client.end();
  for (const [runtime, command] of Object.entries(runtimes)) {
    for (const binding of ['napi', 'ffi', 'pg']) {
      const [file, argv] = command(binding);
      const shown = `${file.replace(/.*node_modules\/\.bin\//, '')} ${argv.join(' ')}`;
      process.stdout.write(`${shown} ... `);
      const run = await runCell(file, argv, { ...process.env, DATABASE_URL: server.url });
      const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) {
        const how = run.timedOut ? `killed after ${CELL_TIMEOUT_MS / 1000} s` : `exit ${run.status ?? run.signal}`;
        console.log(`FAILED (${how}, ${run.wall} s)\n${run.stderr.slice(-2000)}`);
        rows.push({ runtime, binding, failed: `${how}, no figures`, command: shown, wall: run.wall });
        process.exitCode = 1;
        continue;
      }
      const result = JSON.parse(line);
      const hung = run.hung ? `; did not exit on its own after drain (killed ${EXIT_GRACE_MS / 1000} s after printing its figures)` : '';
      console.log(`${line} (${run.wall} s in all${hung})`);
      if (run.status !== 0) process.exitCode = 1;
      rows.push({ ...result, command: shown, wall: run.wall, hung: run.hung });
    }
  }
} finally {
  await server.release();
}

const mb = (bytes) => (bytes / 1e6).toFixed(1);
const verdict = (r) =>
  `${r.passed ? 'pass' : '**LEAK**'}${r.hung ? `; **did not exit after drain** (killed ${EXIT_GRACE_MS / 1000} s after its figures)` : ''}`;
const table = [
  '| runtime | binding | cycles | seconds | cycles/s | RSS before (MB) | RSS after (MB) | growth (MB) | heap used before → after (MB) | verdict | wall time, all in (s) | command |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) =>
    r.failed !== undefined
      ? `| ${r.runtime} | ${r.binding} | | | | | | | | **failed: ${r.failed}** | ${r.wall} | \`${r.command}\` |`
      : `| ${r.runtime} | ${r.binding} | ${r.cycles} | ${r.seconds} | ${r.cycles_per_s} | ${mb(r.rss_before)} | ${mb(r.rss_after)} | ` +
        `${r.growth_mb} | ${mb(r.heap_before)} → ${mb(r.heap_after)} | ${verdict(r)} | ${r.wall} | \`${r.command}\` |`,
  ),
].join('\n');
const first = rows.find((r) => r.failed === undefined);
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/leak-check.md',
  `# Leak check: claim + report cycles per runtime and binding\n\n` +
    `Recorded ${new Date().toISOString()} by \`node bench/run-leak-check.mjs${args.length > 0 ? ` ${args.join(' ')}` : ''}\` on ` +
    `${cpus().length} cores / ${Math.round(totalmem() / 2 ** 30)} GiB, PostgreSQL ${pgVersion} (${serverKind}) on the same cores.\n` +
    `Each cell is a process of its own: ${first?.steps_created ?? '?'} fresh steps created (tasks of 100 independent steps), ` +
    `${first?.warmup ?? '?'} warm-up cycles, an RSS sample, ${first?.cycles ?? '?'} cycles, another sample (each after a forced ` +
    `full collection: \`gc()\` on Node and Deno, \`Bun.gc(true)\` on Bun). A cycle is \`next()\` of up to ${first?.batch ?? '?'} steps and a ` +
    `success \`report()\` for each, every report accepted and every step complete in SQL at the end. ` +
    `Limit: growth below ${first?.limit_mb ?? 20} MB (10^6 bytes). "seconds" times the measured cycles only; the wall time includes ` +
    `migrating, creating the steps and the warm-up.\n\n${table}\n`,
);
console.log('\nwrote bench/results/leak-check.md');
