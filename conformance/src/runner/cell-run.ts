/**
 * One cell of the matrix: its own database (a copy of the migrated template), an orchestrator
 * sweeping it, every scenario's template registered, the main worker on the cell's runtime and
 * binding, and every scenario run one after another. The main worker must drain and exit 0 at
 * the end; if it cannot start, every scenario of the cell fails with the reason.
 */
import { Orchestrator, TaskerClient, checkTemplate, registerTemplate, type LogRecord } from '@tasker/sdk';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Scenario } from '../scenario.ts';
import type { Cell } from './cells.ts';
import { runScenario, type ScenarioRun } from './run-scenario.ts';
import type { SharedServer } from './server.ts';
import { startWorkerProcess, type WorkerProcess } from './worker-process.ts';

/** The main worker's settings: a heartbeat every 250 ms so that a cancellation reaches a running handler quickly. */
const MAIN_WORKER = { concurrency: 16, core: { leaseSeconds: 10, heartbeatMs: 250 } } as const;

/** Everything one cell did. */
export interface CellRun {
  cell: Cell;
  runs: Map<string, ScenarioRun>;
  /** A failure of the cell itself (database, orchestrator, main worker), if any. */
  error: string | null;
  timeMs: number;
}

export interface CellOptions {
  logDir: string;
  /** TASKER_CONFORMANCE_SABOTAGE for this cell's workers. */
  sabotage?: string;
  /** Called after each scenario, for progress lines. */
  onScenario?: (scenario: Scenario, run: ScenarioRun) => void;
}

export async function runCell(cell: Cell, scenarios: readonly Scenario[], server: SharedServer, options: CellOptions): Promise<CellRun> {
  const started = performance.now();
  const runs = new Map<string, ScenarioRun>();
  const problems: string[] = [];
  const database = await server.createDatabase(`${cell.runtime}_${cell.binding}`);
  const pool = new pg.Pool({ connectionString: database.url, max: 8 });
  pool.on('error', () => {});
  const orchestratorLog = createWriteStream(join(options.logDir, `${cell.runtime}-${cell.binding}-orchestrator.log`));
  const orchestrator = new Orchestrator({
    databaseUrl: database.url,
    deploymentMode: 'standard',
    sweepIntervalMs: 500,
    handleSignals: false,
    instanceId: `orchestrator-conformance-${cell.runtime}-${cell.binding}`,
    logWriter: (record: LogRecord) => orchestratorLog.write(`${JSON.stringify(record)}\n`),
  });
  const client = new TaskerClient({ databaseUrl: database.url, poolSize: 8, actor: 'conformance-runner' });
  let main: WorkerProcess | undefined;
  try {
    await orchestrator.start();
    for (const scenario of scenarios) await registerTemplate(pool, checkTemplate(scenario.template, `scenario ${scenario.name}`));
    const served = scenarios.filter((scenario) => scenario.workers === undefined).map((scenario) => scenario.name);
    if (served.length > 0) {
      main = await startWorkerProcess({
        cell,
        role: 'main',
        spec: { namespaces: served, ...MAIN_WORKER },
        databaseUrl: database.url,
        logDir: options.logDir,
        ...(options.sabotage === undefined ? {} : { sabotage: options.sabotage }),
      });
    }
    for (const scenario of scenarios) {
      const run = await runScenario(scenario, {
        cell,
        pool,
        client,
        databaseUrl: database.url,
        logDir: options.logDir,
        main,
        sabotage: options.sabotage,
      });
      runs.set(scenario.name, run);
      options.onScenario?.(scenario, run);
    }
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    if (main !== undefined) {
      const exit = await main.stop();
      if (exit !== 0) problems.push(`the main worker did not drain cleanly: it ended with ${String(exit)}; see ${main.logFile}`);
    }
    await client.close();
    await orchestrator.stop();
    orchestratorLog.end();
    await pool.end();
    await database.drop();
  }
  return { cell, runs, error: problems.length === 0 ? null : problems.join('; '), timeMs: Math.round(performance.now() - started) };
}
