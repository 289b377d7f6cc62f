#!/usr/bin/env node
/**
 * The demo (`npm run demo`): starts the embedded PostgreSQL (or uses DATABASE_URL), installs
 * PGMQ and the schema, runs the sample workflows through the SQL protocol with an in-process
 * claim → execute → report loop, prints what happened, and stops what it started.
 *
 * Today the loop runs on Node over the `pg` protocol calls; the native core and the workers on
 * Bun and Deno take over this loop as they land (issues 3 and 4).
 */
import {
  claimSteps,
  consoleLogSink,
  createTask,
  getTaskStatus,
  redactDatabaseUrl,
  registerTemplate,
  reportStep,
  resolveDatabase,
  runMigrations,
  type ClaimedStep,
  type JsonObject,
  type StepReport,
  type TaskStatus,
} from '@tasker/sdk';
import pg from 'pg';
import { NAMESPACE, handlers, templates } from './sample-workflows.ts';

const TIMEOUT_MS = 60_000;

function execute(step: ClaimedStep): StepReport {
  const lease = { stepId: step.stepId, attempt: step.attempt, delivery: step.delivery };
  const handler = handlers[step.handler];
  if (handler === undefined) {
    return { ...lease, outcome: 'permanent_failure', error: { kind: 'UnknownHandler', message: `no handler named ${step.handler}` } };
  }
  try {
    const result = handler({ context: step.context, dependencies: step.dependencyResults, attempt: step.attempt });
    return { ...lease, outcome: 'success', result };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ...lease, outcome: 'retryable_failure', error: { kind: 'HandlerError', message } };
  }
}

function row(cells: string[], widths: number[]): string {
  return cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
}

function printTask(status: TaskStatus): void {
  console.log(`\n${status.name} ${status.version}  task ${status.task_id}  → ${status.state.toUpperCase()}`);
  const widths = [18, 10, 8, 10, 40];
  console.log(row(['step', 'state', 'attempt', 'took', 'result / last error'], widths));
  for (const step of status.steps) {
    const took =
      step.started_at !== null && step.finished_at !== null
        ? `${Math.max(0, Date.parse(step.finished_at) - Date.parse(step.started_at))} ms`
        : '-';
    const detail = step.results !== null ? JSON.stringify(step.results) : JSON.stringify(step.last_error ?? null);
    console.log(row([step.name, step.state, String(step.attempt), took, detail.slice(0, 60)], widths));
  }
}

async function main(): Promise<void> {
  const database = await resolveDatabase({ log: consoleLogSink });
  console.log(`[INFO] Database: ${redactDatabaseUrl(database.url)}${database.embedded ? ' (embedded)' : ''}`);
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  try {
    await runMigrations({ databaseUrl: database.url, log: consoleLogSink, mode: 'standard' });
    for (const template of templates) await registerTemplate(pool, template);

    const contexts: Array<[string, JsonObject]> = [
      ['order_fulfillment', { items: [12, 30, 7] }],
      ['data_pipeline', { values: [3, 9, 4, 1] }],
      ['flaky_call', {}],
    ];
    const taskIds: string[] = [];
    for (const [name, context] of contexts) {
      taskIds.push((await createTask(pool, { namespace: NAMESPACE, name, context, initiator: 'demo' })).taskId);
    }
    console.log(`[INFO] Created ${taskIds.length} tasks; running their steps`);

    const deadline = Date.now() + TIMEOUT_MS;
    let executed = 0;
    for (;;) {
      const statuses = await Promise.all(taskIds.map((id) => getTaskStatus(pool, id)));
      if (statuses.every((s) => s !== null && s.state !== 'in_progress')) {
        for (const status of statuses) if (status) printTask(status);
        const failed = statuses.filter((s) => s?.state !== 'complete').length;
        console.log(`\n[${failed === 0 ? 'SUCCESS' : 'ERROR'}] ${taskIds.length - failed} of ${taskIds.length} tasks complete, ${executed} step executions`);
        if (failed > 0) process.exitCode = 1;
        return;
      }
      if (Date.now() > deadline) throw new Error(`tasks did not finish within ${TIMEOUT_MS} ms`);
      const { claimed } = await claimSteps(pool, { namespace: NAMESPACE, batchSize: 10, leaseSeconds: 30, workerId: 'demo-node' });
      for (const step of claimed) {
        const report = execute(step);
        executed += 1;
        const outcome = await reportStep(pool, report, 'demo-node');
        const note = report.outcome === 'success' ? 'ok' : `${report.outcome}: ${String(report.error?.['message'])}`;
        console.log(`  ${step.taskName}/${step.stepName} attempt ${step.attempt} → ${note}${outcome.nextRetryAt ? ' (retry scheduled)' : ''}`);
      }
      if (claimed.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await pool.end();
    await database.release();
  }
}

main().catch((error: unknown) => {
  console.error(`[ERROR] demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
