/**
 * tasker-ctl task create | get | watch | cancel | retry, run as a child process against a
 * migrated test database with no worker running: what each prints, and each exit status.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimSteps, registerTemplate, reportStep } from '../../sdk/src/protocol/index.ts';
import { parseTemplate } from '../../sdk/src/template/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { FIXTURES, runCli, type CliResult } from './run-cli.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  for (const name of ['greeting.yaml', 'failing.yaml']) {
    const file = join(FIXTURES, 'templates', name);
    await registerTemplate(db.pool, parseTemplate(await readFile(file, 'utf8'), file));
  }
});

afterAll(async () => {
  await db.drop();
});

function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, { databaseUrl: db.url });
}

async function createGreeting(name: string): Promise<string> {
  const result = await cli('task', 'create', 'cli_demo/greeting', '--context', JSON.stringify({ name }));
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim();
}

describe('task create', () => {
  it('prints only the task id on stdout, and what happened on stderr', async () => {
    const result = await cli('task', 'create', 'cli_demo/greeting@1.0.0', '--context', '{"name":"ada"}', '--correlation-id', 'order-7');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toMatch(UUID);
    expect(result.stderr).toContain(`[SUCCESS] created task ${result.stdout.trim()} (cli_demo/greeting@1.0.0, in_progress)`);
    const task = await db.pool.query<{ correlation_id: string; initiator: string }>(
      'SELECT correlation_id, initiator FROM tasker.tasks WHERE task_id = $1',
      [result.stdout.trim()],
    );
    expect(task.rows[0]).toEqual({ correlation_id: 'order-7', initiator: 'tasker-ctl' });
  });

  it('returns the existing task for a used idempotency key, and --json says which', async () => {
    const args = ['task', 'create', 'cli_demo/greeting', '--context', '{"name":"bo"}', '--idempotency-key', 'k-1', '--json'];
    const first = await cli(...args);
    const second = await cli(...args);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as { taskId: string; created: boolean };
    const b = JSON.parse(second.stdout) as { taskId: string; created: boolean };
    expect(a).toMatchObject({ created: true, state: 'in_progress' });
    expect(b).toEqual({ ...a, created: false });
    expect(second.stderr).toContain(`task ${a.taskId} already existed for idempotency key k-1`);
  });

  it('reads the context from a file', async () => {
    const result = await cli('task', 'create', 'cli_demo/greeting', '--context-file', join(FIXTURES, 'context.json'));
    expect(result.code, result.stderr).toBe(0);
    const get = await cli('task', 'get', result.stdout.trim(), '--json');
    expect(JSON.parse(get.stdout)).toMatchObject({ context: { name: 'from a file' } });
  });

  it('refuses a context the input_schema rejects, naming the field (exit 1)', async () => {
    const result = await cli('task', 'create', 'cli_demo/greeting', '--context', '{"name":""}');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/\[ERROR\] the context does not match the input_schema of cli_demo\/greeting@1\.0\.0: \/name .*fewer than 1/);
    const missing = await cli('task', 'create', 'cli_demo/greeting');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('/name is required');
  });

  it('fails for an unknown template (exit 1) and for bad arguments (exit 2)', async () => {
    const unknown = await cli('task', 'create', 'cli_demo/nothing');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[ERROR] unknown task template cli_demo/nothing@latest');
    for (const args of [
      ['cli_demo'],
      ['cli_demo/greeting', '--context', '{not json'],
      ['cli_demo/greeting', '--context', '[1]'],
      ['cli_demo/greeting', '--timeout-ms', 'soon'],
      ['cli_demo/greeting', '--wait-timeout-ms', '100'],
      ['cli_demo/greeting', '--context', '{}', '--context-file', 'x.json'],
    ]) {
      const result = await cli('task', 'create', ...args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain('tasker-ctl: ');
    }
  });
});

describe('task get', () => {
  it('shows the task and a table of its steps (exit 0 while it runs)', async () => {
    const taskId = await createGreeting('cy');
    const result = await cli('task', 'get', taskId);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`task:        ${taskId}`);
    expect(result.stdout).toContain('template:    cli_demo/greeting@1.0.0');
    expect(result.stdout).toMatch(/^STEP +STATE +ATTEMPT +WORKER +DURATION +RESULT \/ ERROR$/m);
    expect(result.stdout).toMatch(/^greet +enqueued +1\/3 +- +-$/m);
    expect(result.stdout).toMatch(/^shout +pending +1\/3 +- +- +waits for greet$/m);
  });

  it('prints the task as JSON with --json', async () => {
    const taskId = await createGreeting('di');
    const result = await cli('task', 'get', taskId, '--json');
    expect(result.code, result.stderr).toBe(0);
    const task = JSON.parse(result.stdout) as { taskId: string; steps: Array<{ name: string; state: string }> };
    expect(task.taskId).toBe(taskId);
    expect(task.steps.map((s) => [s.name, s.state])).toEqual([
      ['greet', 'enqueued'],
      ['shout', 'pending'],
    ]);
  });

  it('exits 1 for an unknown task and 2 for something that is not a task id', async () => {
    const unknown = await cli('task', 'get', '01a20458-0000-7000-8000-000000000000');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[ERROR] unknown task 01a20458-0000-7000-8000-000000000000');
    const bad = await cli('task', 'get', 'not-a-uuid');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"not-a-uuid" is not a task id');
  });
});

describe('task cancel, retry and watch', () => {
  it('cancels a running task; get and watch then exit 3', async () => {
    const taskId = await createGreeting('ed');
    const cancel = await cli('task', 'cancel', taskId, '--reason', 'changed my mind');
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stderr).toContain(`[SUCCESS] cancelled task ${taskId} (2 steps cancelled)`);
    const reason = await db.pool.query<{ reason: string; actor: string }>(
      "SELECT reason, actor FROM tasker.task_transitions WHERE task_id = $1 AND to_state = 'cancelled'",
      [taskId],
    );
    expect(reason.rows).toEqual([{ reason: 'changed my mind', actor: 'tasker-ctl' }]);

    const get = await cli('task', 'get', taskId);
    expect(get.code).toBe(3);
    expect(get.stdout).toContain('state:       cancelled');
    const watch = await cli('task', 'watch', taskId);
    expect(watch.code).toBe(3);
    expect(watch.stderr).toContain(`[ERROR] task ${taskId} cancelled`);

    const again = await cli('task', 'cancel', taskId);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('was already cancelled');
    // Only a task in error can be retried.
    const retry = await cli('task', 'retry', taskId);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain(`[ERROR] task ${taskId} is cancelled: only a task in error can be retried`);
  });

  it('retries a task in error: its failed step is enqueued again', async () => {
    const create = await cli('task', 'create', 'cli_demo/failing');
    const taskId = create.stdout.trim();
    const { claimed } = await claimSteps(db.pool, { namespace: 'cli_demo', batchSize: 50, leaseSeconds: 30 });
    const step = claimed.find((s) => s.taskId === taskId);
    expect(step).toBeDefined();
    await reportStep(db.pool, {
      stepId: step!.stepId,
      attempt: step!.attempt,
      delivery: step!.delivery,
      outcome: 'permanent_failure',
      error: { kind: 'PermanentError', message: 'refused by the test' },
    });
    const failed = await cli('task', 'get', taskId);
    expect(failed.code).toBe(3);
    expect(failed.stdout).toMatch(/^refuse +error +1\/1 +\S+ +\d+ ms +PermanentError: refused by the test$/m);

    const retry = await cli('task', 'retry', taskId);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stderr).toContain(`[SUCCESS] retrying task ${taskId}: 1 step reset, 1 enqueued`);
    const after = await cli('task', 'get', taskId, '--json');
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ state: 'in_progress', steps: [{ name: 'refuse', state: 'enqueued' }] });
  });

  it('watch prints the steps and exits 4 when --timeout-ms runs out first', async () => {
    const taskId = await createGreeting('fa');
    const watch = await cli('task', 'watch', taskId, '--timeout-ms', '400');
    expect(watch.code).toBe(4);
    expect(watch.stdout).toContain(`watching task ${taskId} (cli_demo/greeting@1.0.0)`);
    expect(watch.stdout).toMatch(/step greet +enqueued/);
    expect(watch.stdout).toMatch(/step shout +pending/);
    expect(watch.stderr).toContain(`[ERROR] task ${taskId} is still in_progress after 400 ms; stopped waiting`);
  });

  it('cancel fails (exit 1) for an unknown task', async () => {
    const result = await cli('task', 'cancel', '01a20458-0000-7000-8000-000000000001');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('[ERROR]');
    expect(result.stderr).toContain('01a20458-0000-7000-8000-000000000001');
  });
});
