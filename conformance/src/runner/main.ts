/**
 * The conformance runner: `node conformance/dist/runner/main.js [options]` (npm run
 * test:conformance). Starts the shared PostgreSQL once, runs every scenario in every runtime ×
 * binding cell, then the mixed fleet, judges the traces against the expectations and against
 * each other, prints the matrix with every difference, writes the report as JSON, and exits 1
 * when anything failed (2 on bad usage).
 *
 *   --scenarios a,b     only these scenarios (default: all)
 *   --cells node/napi,… only these cells (default: all nine)
 *   --parallel N        cells run at once (default 1; each cell has its own database)
 *   --no-fleet          skip the mixed fleet
 *   --out DIR           where latest.json and the worker logs go (default conformance/results)
 *   --list              print the scenarios and cells, run nothing
 */
import { rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SCENARIOS } from '../scenarios/index.ts';
import type { Scenario } from '../scenario.ts';
import { ALL_CELLS, parseCells, PROJECT_ROOT, type Cell } from './cells.ts';
import { runCell, type CellRun } from './cell-run.ts';
import { runMixedFleet, type FleetResult } from './fleet.ts';
import { cellSummaries, formatReport, reportPassed, writeReport, type RunReport } from './report.ts';
import { parseSabotage } from './sabotage.ts';
import { startSharedServer } from './server.ts';
import { judge } from './verdict.ts';

interface Options {
  scenarios: Scenario[];
  cells: Cell[];
  parallel: number;
  fleet: boolean;
  out: string;
  list: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenarios: { type: 'string' },
      cells: { type: 'string' },
      parallel: { type: 'string', default: '1' },
      'no-fleet': { type: 'boolean', default: false },
      out: { type: 'string', default: join(PROJECT_ROOT, 'conformance', 'results') },
      list: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const scenarios =
    values.scenarios === undefined
      ? [...SCENARIOS]
      : values.scenarios.split(',').map((name) => {
          const found = SCENARIOS.find((scenario) => scenario.name === name.trim());
          if (found === undefined) throw new Error(`unknown scenario "${name}"; scenarios are ${SCENARIOS.map((s) => s.name).join(', ')}`);
          return found;
        });
  const parallel = Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1) throw new Error(`--parallel must be a whole number of at least 1, got ${values.parallel}`);
  return {
    scenarios,
    cells: values.cells === undefined ? [...ALL_CELLS] : parseCells(values.cells),
    parallel,
    fleet: !values['no-fleet'],
    out: values.out,
    list: values.list,
  };
}

/** Runs `work` over `items` with at most `limit` at once, keeping the items' order in the result. */
async function inPool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`[conformance] ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  if (options.list) {
    for (const scenario of SCENARIOS) console.log(`${scenario.name.padEnd(20)} ${scenario.description}`);
    console.log(`cells: ${ALL_CELLS.map((c) => c.id).join(', ')}`);
    return 0;
  }
  const sabotage = parseSabotage(process.env.TASKER_CONFORMANCE_SABOTAGE, options.cells);
  if (sabotage !== undefined) console.log(`[conformance] SABOTAGE: ${sabotage.kind} in cell ${sabotage.cell.id} — this run is meant to fail`);
  const logDir = join(options.out, 'logs');
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });

  const startedAt = new Date();
  const started = performance.now();
  const server = await startSharedServer((line) => console.error(line));
  console.log(`[conformance] ${options.scenarios.length} scenarios × ${options.cells.length} cells on ${server.summary}`);
  let cells: CellRun[];
  let fleet: FleetResult | null = null;
  try {
    cells = await inPool(options.cells, options.parallel, (cell) => {
      console.log(`[conformance] ${cell.id}: starting`);
      return runCell(cell, options.scenarios, server, {
        logDir,
        ...(sabotage?.cell.id === cell.id ? { sabotage: sabotage.kind } : {}),
        onScenario: (scenario, run) =>
          console.log(`[conformance] ${cell.id} ${scenario.name}: ${run.error === null ? 'ran' : `FAILED (${run.error})`} in ${run.timeMs} ms`),
      });
    });
    if (options.fleet) {
      console.log('[conformance] mixed fleet: starting');
      fleet = await runMixedFleet(server, logDir);
    }
  } finally {
    await server.release();
  }
  const report: RunReport = {
    startedAt: startedAt.toISOString(),
    wallMs: Math.round(performance.now() - started),
    server: server.summary,
    command: ['node', 'conformance/dist/runner/main.js', ...process.argv.slice(2)].join(' '),
    sabotage: sabotage === undefined ? null : `${sabotage.kind}@${sabotage.cell.id}`,
    cells: cellSummaries(cells),
    scenarios: options.scenarios.map((s) => s.name),
    verdicts: judge(options.scenarios, cells),
    fleet,
  };
  const jsonPath = join(options.out, 'latest.json');
  writeReport(jsonPath, report);
  console.log(`\n${formatReport(report)}`);
  console.log(`report: ${jsonPath}; worker logs: ${logDir}`);
  return reportPassed(report) ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`[conformance] FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
}
