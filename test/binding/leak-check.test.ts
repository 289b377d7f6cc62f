/**
 * The leak check (bench/leak-check.ts) on Node, once per binding of TASKER_TEST_BINDINGS (default
 * pg,napi,ffi): 100,000 claim + report cycles in a child process of its own (its RSS is the
 * subject), in a database of the test server made for it; the RSS must grow by less than 20 MB
 * between the sample after the 5,000-cycle warm-up and the one after the 100,000 cycles. The child
 * also fails when a report is refused or the steps complete in SQL do not match the cycles.
 *
 * The child runs the compiled bench (bench/dist, importing sdk/dist), so `tsc -b bench` runs
 * first: the check always measures the sources as they are. Figures for every runtime are
 * recorded by bench/run-leak-check.mjs in bench/results/leak-check.md.
 */
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runChild, tail } from '../support/child-process.ts';
import { createTestDatabase } from '../support/database.ts';
import { bindingsUnderTest } from './bindings-under-test.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CYCLES = 100_000;
const LIMIT_MB = 20;
/**
 * Per binding, all in (migrate, create 105,200 steps, 105,000 cycles). Measured on the shared
 * 2-core machine: 2.7–3.1 min each for pg, napi and ffi; ffi took ~10 min before koffi reports
 * were batched. Generous, because a busy machine doubles it.
 */
const CELL_TIMEOUT_MS = 25 * 60_000;
/** Once it printed its figures, the child must exit on its own this soon (nothing may hold its event loop after drain). */
const EXIT_GRACE_MS = 60_000;
/** Same flags as bench/run-leak-check.mjs (why: see there). */
const NODE_FLAGS = ['--expose-gc', '--min-semi-space-size=1', '--max-semi-space-size=1'];

/** The JSON line bench/leak-check.ts prints. */
interface LeakFigures {
  binding: string;
  cycles: number;
  seconds: number;
  rss_before: number;
  rss_after: number;
  growth_mb: number;
  heap_before: number;
  heap_after: number;
  gc: string;
  passed: boolean;
}

beforeAll(async () => {
  const build = await runChild(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-b', 'bench'], {
    cwd: ROOT,
    timeoutMs: 300_000,
  });
  if (build.code !== 0) throw new Error(`tsc -b bench failed (exit ${build.code}):\n${tail(build.stdout + build.stderr)}`);
}, 310_000);

describe.each(bindingsUnderTest())('%s binding', (bindingName) => {
  it(`grows RSS by less than ${LIMIT_MB} MB over ${CYCLES} claim + report cycles`, { timeout: CELL_TIMEOUT_MS + 60_000 }, async () => {
    const db = await createTestDatabase();
    try {
      const args = [...NODE_FLAGS, 'bench/dist/leak-check.js', '--binding', bindingName, '--cycles', String(CYCLES), '--limit-mb', String(LIMIT_MB), '--database-url', db.url];
      const run = await runChild(process.execPath, args, { cwd: ROOT, timeoutMs: CELL_TIMEOUT_MS, exitAfter: { output: /^\{/m, withinMs: EXIT_GRACE_MS } });
      const shown = `node ${args.slice(0, -2).join(' ')} --database-url <test database>`;
      const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) {
        const how = run.timedOut ? `was killed after ${CELL_TIMEOUT_MS / 1000} s` : `exited with ${run.code ?? run.signal}`;
        throw new Error(`the leak check of ${bindingName} ${how} without figures (\`${shown}\`):\n${tail(run.stderr || run.stdout)}`);
      }
      const figures = JSON.parse(line) as LeakFigures;
      console.log(`[leak ${bindingName} on node] ${line} (${run.seconds} s in all)`);
      expect(figures.binding).toBe(bindingName);
      expect(figures.cycles).toBe(CYCLES);
      expect(figures.gc, 'the samples followed a forced collection').toBe('gc()');
      expect(
        figures.growth_mb,
        `RSS grew from ${(figures.rss_before / 1e6).toFixed(1)} MB to ${(figures.rss_after / 1e6).toFixed(1)} MB ` +
          `(JS heap used ${(figures.heap_before / 1e6).toFixed(1)} → ${(figures.heap_after / 1e6).toFixed(1)} MB) over ${CYCLES} cycles ` +
          `of the ${bindingName} binding; reproduce with \`${shown}\``,
      ).toBeLessThan(LIMIT_MB);
      expect(run.hung, `the leak check printed its figures but did not exit within ${EXIT_GRACE_MS / 1000} s: something holds its event loop after drain`).toBe(false);
      expect(run.code, `the leak check exited with ${run.code ?? run.signal}:\n${tail(run.stderr)}`).toBe(0);
    } finally {
      await db.drop();
    }
  });
});
