/**
 * The text reports of `template list`, `task get` and `task watch` are one line per template,
 * per step, per change (docs/cli.md shows them so, and scripts cut them with awk/grep). Text
 * with a line break (a YAML block-scalar description, an error message of several lines) used to
 * be printed raw, so one row became two; every cell and watch detail is one line now.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimSteps, reportStep } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runCli } from './run-cli.ts';
import { scratchDir } from './scratch-templates.ts';

let db: TestDatabase;
let dir: Awaited<ReturnType<typeof scratchDir>>;
let failedTaskId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await scratchDir('tables');
  await dir.write(
    'multi.yaml',
    [
      'namespace: cli_tables',
      'name: multi',
      'version: "1.0.0"',
      'description: |',
      '  Charge the card.',
      '  Then ship the parcel.',
      'steps:',
      '  - name: charge',
      '    handler: scratch.charge',
      '    retry: { max_attempts: 2, backoff_ms: 60000 }',
      '  - name: ship',
      '    handler: scratch.ship',
      '    dependencies: [charge]',
      '',
    ].join('\n'),
  );
  const register = await runCli(['template', 'register', dir.path], { databaseUrl: db.url });
  expect(register.code, register.stderr).toBe(0);

  // A task whose first step failed (and waits for a retry) with an error of two lines.
  const create = await runCli(['task', 'create', 'cli_tables/multi'], { databaseUrl: db.url });
  expect(create.code, create.stderr).toBe(0);
  failedTaskId = create.stdout.trim();
  const { claimed } = await claimSteps(db.pool, { namespace: 'cli_tables', batchSize: 5, leaseSeconds: 30, workerId: 'tables-w' });
  const step = claimed.find((s) => s.taskId === failedTaskId);
  expect(step).toBeDefined();
  await reportStep(db.pool, {
    stepId: step!.stepId,
    attempt: step!.attempt,
    delivery: step!.delivery,
    outcome: 'retryable_failure',
    error: { kind: 'GatewayError', message: 'card declined\nupstream said: insufficient funds' },
  });
});

afterAll(async () => {
  await db.drop();
  await dir.cleanup();
});

describe('a line break in a cell', () => {
  it('template list keeps a multi-line description on its template row', async () => {
    const list = await runCli(['template', 'list'], { databaseUrl: db.url });
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    // A header and one row: today the row is split, and "Then ship the parcel." is a line of its own.
    expect(lines, list.stdout).toHaveLength(2);
    expect(lines[1]).toMatch(/^cli_tables +multi +1\.0\.0 +2 +Charge the card\./);
  });

  it('task get keeps a multi-line step error on the step row', async () => {
    const get = await runCli(['task', 'get', failedTaskId], { databaseUrl: db.url });
    expect(get.code, get.stderr).toBe(0);
    const table = get.stdout.slice(get.stdout.indexOf('STEP')).trimEnd().split('\n');
    // Header, charge, ship: today the charge row is split in two, so there are four lines.
    expect(table, get.stdout).toHaveLength(3);
    expect(table[1]).toMatch(/^charge +waiting_for_retry .*GatewayError: card declined/);
    expect(table[2]).toMatch(/^ship +pending/);
  });

  it('task watch prints a multi-line step error on its step line', async () => {
    const watch = await runCli(['task', 'watch', failedTaskId, '--timeout-ms', '300'], { databaseUrl: db.url });
    expect(watch.code, watch.stderr).toBe(4);
    expect(watch.stdout).toContain('GatewayError: card declined');
    // Every line after the first is `HH:MM:SS.mmm  task|step ...`.
    for (const line of watch.stdout.trimEnd().split('\n').slice(1)) {
      expect(line, watch.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}(task|step) /);
    }
  });
});
