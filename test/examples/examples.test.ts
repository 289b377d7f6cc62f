/**
 * Every example app in workers/ end to end, on each runtime: the orchestrator registers
 * workers/templates, the example worker runs as a child process on Node, Bun or Deno (its real
 * entry point), and each workflow ends with exactly the results its handlers compute.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_TEMPLATES_DIR } from '../../workers/src/apps/index.ts';
import { INVALID_ORDER } from '../../workers/src/demo/sample-tasks.ts';
import {
  startRuntimeWorker,
  stopRuntimeWorker,
  type RuntimeName,
  type RuntimeWorker,
} from '../../workers/src/demo/runtime-workers.ts';
import { InvalidContextError } from '../../sdk/src/template/index.ts';
import { TaskerClient, type TaskInfo } from '../../sdk/src/client/index.ts';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

function results(task: TaskInfo): Record<string, unknown> {
  return Object.fromEntries(task.steps.map((step) => [step.name, step.state === 'complete' ? step.result : step.state]));
}

describe.each<RuntimeName>(['node', 'bun', 'deno'])('examples on %s', (runtime) => {
  let db: TestDatabase;
  let client: TaskerClient;
  let orchestrator: Orchestrator;
  let worker: RuntimeWorker;

  beforeAll(async () => {
    db = await createTestDatabase();
    orchestrator = new Orchestrator({
      databaseUrl: db.url,
      templateDirs: [EXAMPLE_TEMPLATES_DIR],
      sweepIntervalMs: 500,
      handleSignals: false,
      logWriter: () => {},
    });
    const started = await orchestrator.start();
    expect(started.templates.map((t) => t.name).sort()).toEqual([
      'csv_import',
      'expense_approval',
      'flaky_api_call',
      'order_fulfillment',
      'sales_report',
    ]);
    client = new TaskerClient({ databaseUrl: db.url });
    const logDir = await mkdtemp(join(tmpdir(), `tasker-examples-${runtime}-`));
    worker = await startRuntimeWorker(runtime, { DATABASE_URL: db.url, TASKER_ENV: 'development' }, logDir);
  }, 120_000);

  afterAll(async () => {
    const code = worker === undefined ? 0 : await stopRuntimeWorker(worker);
    await orchestrator?.stop();
    await client?.close();
    await db?.drop();
    expect(code, `the ${runtime} worker must drain and exit 0 (log: ${worker?.logFile})`).toBe(0);
  }, 60_000);

  async function run(namespace: string, name: string, context: Record<string, unknown>): Promise<TaskInfo> {
    const { taskId } = await client.createTask({ namespace, name, context: context as never });
    return client.waitForTask(taskId, { timeoutMs: 30_000 });
  }

  it('runs the e-commerce order (linear) in order, each step reading the previous one', async () => {
    const task = await run('ecommerce', 'order_fulfillment', {
      order_id: 'T-1',
      customer_email: 'a@example.com',
      items: [
        { sku: 'A', price: 2.5, quantity: 2 },
        { sku: 'B', price: 10, quantity: 1 },
      ],
    });
    expect(task.state).toBe('complete');
    expect(results(task)).toEqual({
      validate_cart: { total: 15, lines: 2 },
      process_payment: { payment_id: 'pay_T-1', amount: 15 },
      update_inventory: {
        reserved: [
          { sku: 'A', quantity: 2 },
          { sku: 'B', quantity: 1 },
        ],
        for_payment: 'pay_T-1',
      },
      send_confirmation: { emailed: 'a@example.com', order_id: 'T-1' },
    });
    const started = task.steps.map((step) => step.startedAt?.getTime() ?? 0);
    expect([...started].sort((a, b) => a - b)).toEqual(started);
    expect(task.steps.every((step) => step.claimedBy?.startsWith(`${runtime}-`))).toBe(true);
  });

  it('refuses an order whose context fails the input schema, naming the fields', async () => {
    const error = await client.createTask(INVALID_ORDER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidContextError);
    const paths = (error as InvalidContextError).errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/customer_email', '/items']));
  });

  it('runs the data pipeline (diamond): both branches feed the join', async () => {
    const task = await run('data_pipeline', 'sales_report', {
      records: [
        { region: 'north', product: 'tea', amount: 5 },
        { region: 'south', product: 'coffee', amount: 7 },
        { region: 'north', product: 'coffee', amount: 1 },
      ],
    });
    expect(task.state).toBe('complete');
    const out = results(task);
    expect(out['by_region']).toEqual({ north: 6, south: 7 });
    expect(out['by_product']).toEqual({ tea: 5, coffee: 8 });
    expect(out['build_report']).toEqual({ total: 13, regions: 2, top_product: 'coffee' });
  });

  it('runs the conditional approval: the decision picks one branch, the other is skipped', async () => {
    const small = await run('approvals', 'expense_approval', { employee: 'ada', amount: 100 });
    expect(small.state).toBe('complete');
    expect(results(small)).toMatchObject({
      route_approval: { route: 'auto_approve' },
      auto_approve: { approved: true, by: 'policy', amount: 100 },
      manager_review: 'skipped',
      record_decision: { employee: 'ada', decision: { approved: true, by: 'policy', amount: 100 } },
    });
    const large = await run('approvals', 'expense_approval', { employee: 'bo', amount: 50_000 });
    expect(results(large)).toMatchObject({
      auto_approve: 'skipped',
      manager_review: { approved: false, by: 'manager', amount: 50_000 },
      record_decision: { employee: 'bo', decision: { approved: false, by: 'manager', amount: 50_000 } },
    });
  });

  it('runs the batch import (fan-out): one instance per chunk, then the merge with every chunk in order', async () => {
    const task = await run('batch_processing', 'csv_import', {
      csv: 'sku,quantity,price\nA,2,2.50\nB,1,10\nC,x,1\nD,3,0.5\n\nE,1,4\n',
      chunk_size: 2,
    });
    expect(task.state).toBe('complete');
    expect(results(task)).toEqual({
      split_rows: { rows: 5, chunks: 3, chunk_size: 2 },
      process_chunk: 'skipped', // the template step, replaced by its three instances
      merge_totals: { rows_read: 5, chunks: 3, rows_imported: 4, quantity: 7, amount: 20.5, rejected_lines: [4] },
      'process_chunk[0]': { chunk: 0, rows: 2, quantity: 3, amount_cents: 1500, rejected_lines: [] },
      'process_chunk[1]': { chunk: 1, rows: 1, quantity: 3, amount_cents: 150, rejected_lines: [4] },
      'process_chunk[2]': { chunk: 2, rows: 1, quantity: 1, amount_cents: 400, rejected_lines: [] },
    });
    const merge = task.steps.find((step) => step.name === 'merge_totals');
    const last = Math.max(...task.steps.filter((s) => s.name.startsWith('process_chunk[')).map((s) => s.finishedAt?.getTime() ?? Infinity));
    expect(merge?.startedAt?.getTime()).toBeGreaterThanOrEqual(last);
    expect(task.steps.every((step) => step.state === 'skipped' || step.claimedBy?.startsWith(`${runtime}-`))).toBe(true);

    // An empty file fans out into nothing; the merge still runs.
    const empty = await run('batch_processing', 'csv_import', { csv: 'sku,quantity,price\n' });
    expect(results(empty)).toEqual({
      split_rows: { rows: 0, chunks: 0, chunk_size: 100 },
      process_chunk: 'skipped',
      merge_totals: { rows_read: 0, chunks: 0, rows_imported: 0, quantity: 0, amount: 0, rejected_lines: [] },
    });
  });

  it('runs the flaky call: two retryable failures, success on the third attempt', async () => {
    const task = await run('reliability', 'flaky_api_call', {});
    expect(task.state).toBe('complete');
    expect(task.steps[0]).toMatchObject({ name: 'call_api', attempt: 3, result: { answer: 42, attempts: 3 } });
    expect(results(task)['store_answer']).toEqual({ stored: 42 });
  });
});
