#!/usr/bin/env node
/**
 * The demo (`npm run demo`): starts the embedded PostgreSQL with PGMQ (or uses DATABASE_URL),
 * runs the orchestrator (migrations, template registration, sweeps), starts the example worker
 * on Node, Bun and Deno, creates sample tasks of every example workflow, shows live progress,
 * prints what happened to each task (which runtime ran each step, how long it took), and stops
 * everything it started. Exits non-zero when a task did not end as expected or a worker did not
 * drain cleanly.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  InvalidContextError,
  Orchestrator,
  TaskerClient,
  consoleLogSink,
  redactDatabaseUrl,
  resolveDatabase,
  type LogRecord,
  type TaskInfo,
} from '@tasker/sdk';
import { EXAMPLE_TEMPLATES_DIR } from '../apps/index.ts';
import { showProgress } from './progress.ts';
import { startRuntimeWorker, stopRuntimeWorker, type RuntimeName, type RuntimeWorker } from './runtime-workers.ts';
import { INVALID_ORDER, SAMPLE_TASKS } from './sample-tasks.ts';
import { printTask, stepsByRuntime } from './task-table.ts';

const RUNTIMES: readonly RuntimeName[] = ['node', 'bun', 'deno'];
const TASK_TIMEOUT_MS = 90_000;

/** The orchestrator's routine lines would drown the demo's output; warnings and errors are shown. */
function orchestratorLog(record: LogRecord): void {
  if (record.level === 'warn' || record.level === 'error') {
    console.log(`[ORCHESTRATOR] ${record.level}: ${record.message} ${JSON.stringify(record.fields)}`);
  }
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  const database = await resolveDatabase({ log: consoleLogSink });
  console.log(`[INFO] Database: ${redactDatabaseUrl(database.url)}${database.embedded ? ' (embedded)' : ''}`);
  const orchestrator = new Orchestrator({
    databaseUrl: database.url,
    templateDirs: [EXAMPLE_TEMPLATES_DIR],
    sweepIntervalMs: 500,
    handleSignals: false,
    logWriter: orchestratorLog,
  });
  const client = new TaskerClient({ databaseUrl: database.url, actor: 'demo' });
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  const workers: RuntimeWorker[] = [];
  let failures = 0;
  let stopping: Promise<void> | undefined;
  // Run once, by the finally below or by Ctrl-C / SIGTERM (whose default would end the process
  // before the finally, leaving the embedded server this run started running).
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      const codes = await Promise.all(workers.map((worker) => stopRuntimeWorker(worker)));
      workers.forEach((worker, i) => {
        const code = codes[i];
        if (code === 0) console.log(`[INFO] The ${worker.runtime} worker drained and exited 0`);
        else {
          failures += 1;
          console.log(`[ERROR] The ${worker.runtime} worker exited with ${String(code)}; see ${worker.logFile}`);
        }
      });
      await orchestrator.stop();
      await client.close();
      await pool.end();
      await database.release();
    })());
  const interrupted = (signal: NodeJS.Signals): void => {
    console.log(`[INFO] ${signal} received: stopping the workers, the orchestrator and the database the demo started`);
    void stopAll()
      .catch((error: unknown) => console.error(`[ERROR] stopping failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const started = await orchestrator.start();
    console.log(
      `[INFO] Orchestrator: ${started.applied.length} migrations applied, ${started.templates.length} templates registered from workers/templates`,
    );

    const logDir = await mkdtemp(join(tmpdir(), 'tasker-demo-'));
    const env = { DATABASE_URL: database.url, TASKER_ENV: 'development' };
    const launched = await Promise.allSettled(RUNTIMES.map((runtime) => startRuntimeWorker(runtime, env, logDir)));
    // Every worker that started is kept (and so stopped below) before one that did not fails the demo.
    for (const result of launched) if (result.status === 'fulfilled') workers.push(result.value);
    const failed = launched.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    console.log(`[INFO] Workers running on ${RUNTIMES.join(', ')} (logs in ${logDir})`);

    try {
      await client.createTask(INVALID_ORDER);
    } catch (error) {
      if (!(error instanceof InvalidContextError)) throw error;
      console.log(`[INFO] A bad order is refused before it is created: ${error.message}`);
    }

    const taskIds: string[] = [];
    // Idempotency keys name this run's tasks: the embedded server keeps earlier runs' tasks, and a
    // key they used would hand those back instead of creating new ones.
    const run = new Date().toISOString();
    for (const input of SAMPLE_TASKS) {
      const key = input.idempotencyKey === undefined ? {} : { idempotencyKey: `${input.idempotencyKey}@${run}` };
      taskIds.push((await client.createTask({ ...input, ...key, initiator: 'demo' })).taskId);
    }
    console.log(`[INFO] Created ${taskIds.length} tasks`);

    const stopProgress = showProgress(pool, taskIds);
    let tasks: TaskInfo[];
    try {
      tasks = await Promise.all(taskIds.map((id) => client.waitForTask(id, { timeoutMs: TASK_TIMEOUT_MS })));
    } finally {
      await stopProgress();
    }
    for (const task of tasks) printTask(task);

    failures += tasks.filter((task) => task.state !== 'complete').length;
    const byRuntime = stepsByRuntime(tasks);
    const steps = Object.values(byRuntime).reduce((a, b) => a + b, 0);
    console.log(
      `\n[INFO] ${steps} steps completed: ${RUNTIMES.map((runtime) => `${runtime} ${byRuntime[runtime] ?? 0}`).join(', ')}`,
    );
    console.log(`[${failures === 0 ? 'SUCCESS' : 'ERROR'}] ${tasks.length - failures} of ${tasks.length} tasks complete`);
  } finally {
    await stopAll();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
  console.log(`[INFO] Demo finished in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`[ERROR] demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
