/**
 * Migration 0009: task deadlines and their sweeper, retrying a failed task, and the input schema
 * lookup the client uses before create_task.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidProtocolArgumentError,
  UnknownTaskError,
  claimSteps,
  createTask,
  extendLeases,
  getTaskStatus,
  registerTemplate,
  reportStep,
  retryTask,
  sweepTaskTimeouts,
  templateInputSchema,
  type ClaimedStep,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { queueMessages, sleep } from '../support/queue.ts';
import { diamond, single, template } from '../support/templates.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

async function claim(namespace: string): Promise<ClaimedStep[]> {
  return (await claimSteps(db.pool, { namespace, batchSize: 100, leaseSeconds: 30 })).claimed;
}

async function stepStates(taskId: string): Promise<Record<string, string>> {
  const status = await getTaskStatus(db.pool, taskId);
  return Object.fromEntries((status?.steps ?? []).map((s) => [s.name, s.state]));
}

describe('task deadlines', () => {
  it('fails an unfinished task after its timeout and tells its running step to abort', async () => {
    await registerTemplate(db.pool, diamond('deadline_ns'));
    const { taskId } = await createTask(db.pool, { namespace: 'deadline_ns', name: 'diamond', timeoutMs: 200 });
    const [running] = await claim('deadline_ns');
    expect(await sweepTaskTimeouts(db.pool)).toEqual([]);

    await sleep(300);
    const swept = await sweepTaskTimeouts(db.pool, 100, 'test-sweeper');
    expect(swept).toEqual([{ taskId, reason: expect.stringContaining('timed out') }]);
    expect((await getTaskStatus(db.pool, taskId))?.state).toBe('error');
    expect(await stepStates(taskId)).toEqual({ a: 'in_progress', b: 'cancelled', c: 'cancelled', d: 'cancelled' });

    const [extension] = await extendLeases(db.pool, [running!], 30);
    expect(extension).toMatchObject({ abort: true, taskState: 'error' });
    // A second sweep finds nothing: the task is finished.
    expect(await sweepTaskTimeouts(db.pool)).toEqual([]);
    const { rows } = await db.pool.query<{ actor: string; reason: string }>(
      `SELECT actor, reason FROM tasker.task_transitions WHERE task_id = $1 AND to_state = 'error'`,
      [taskId],
    );
    expect(rows).toEqual([{ actor: 'test-sweeper', reason: expect.stringContaining('timed out') }]);
  });

  it('leaves tasks without a deadline, and finished tasks, alone', async () => {
    await registerTemplate(db.pool, single('nodeadline_ns'));
    const open = await createTask(db.pool, { namespace: 'nodeadline_ns', name: 'single' });
    const quick = await createTask(db.pool, { namespace: 'nodeadline_ns', name: 'single', timeoutMs: 150 });
    for (const step of await claim('nodeadline_ns')) {
      if (step.taskId === quick.taskId) await reportStep(db.pool, { ...step, outcome: 'success', result: 1 });
    }
    await sleep(250);
    expect(await sweepTaskTimeouts(db.pool)).toEqual([]);
    expect((await getTaskStatus(db.pool, quick.taskId))?.state).toBe('complete');
    expect((await getTaskStatus(db.pool, open.taskId))?.state).toBe('in_progress');
  });

  it('refuses a timeout out of range', async () => {
    await registerTemplate(db.pool, single('badtimeout_ns'));
    await expect(createTask(db.pool, { namespace: 'badtimeout_ns', name: 'single', timeoutMs: 0 })).rejects.toBeInstanceOf(
      InvalidProtocolArgumentError,
    );
  });
});

describe('retry_task', () => {
  it('reruns the failed step and what it blocked, keeping completed results', async () => {
    await registerTemplate(
      db.pool,
      template(
        'chain',
        [
          { name: 'first', handler: 'h.first' },
          { name: 'second', handler: 'h.second', dependencies: ['first'], retry: { max_attempts: 1 } },
          { name: 'third', handler: 'h.third', dependencies: ['second'] },
        ],
        'retry_ns',
      ),
    );
    const { taskId } = await createTask(db.pool, { namespace: 'retry_ns', name: 'chain' });
    const [first] = await claim('retry_ns');
    await reportStep(db.pool, { ...first!, outcome: 'success', result: { n: 1 } });
    const [second] = await claim('retry_ns');
    await reportStep(db.pool, { ...second!, outcome: 'permanent_failure', error: { kind: 'Boom', message: 'boom' } });
    expect((await getTaskStatus(db.pool, taskId))?.state).toBe('error');
    expect(await stepStates(taskId)).toEqual({ first: 'complete', second: 'error', third: 'cancelled' });

    const retried = await retryTask(db.pool, taskId, { actor: 'operator' });
    expect(retried).toEqual({ taskId, state: 'in_progress', changed: true, retriedSteps: 2, enqueuedSteps: 1 });
    expect(await stepStates(taskId)).toEqual({ first: 'complete', second: 'enqueued', third: 'pending' });
    expect((await queueMessages(db.pool, 'retry_ns')).length).toBe(1);

    const [again] = await claim('retry_ns');
    // A fresh budget (max_attempts 1 more), numbered on from the failed attempt (0035).
    expect(again).toMatchObject({ stepName: 'second', attempt: 2, maxAttempts: 2, dependencyResults: { first: { n: 1 } } });
    await reportStep(db.pool, { ...again!, outcome: 'success', result: 2 });
    const [third] = await claim('retry_ns');
    await reportStep(db.pool, { ...third!, outcome: 'success', result: 3 });
    const status = await getTaskStatus(db.pool, taskId);
    expect(status?.state).toBe('complete');
    expect(status?.steps.map((s) => s.results)).toEqual([{ n: 1 }, 2, 3]);
  });

  it('leaves a task that is not in error alone, and names an unknown task', async () => {
    await registerTemplate(db.pool, single('retry_noop_ns'));
    const { taskId } = await createTask(db.pool, { namespace: 'retry_noop_ns', name: 'single' });
    expect(await retryTask(db.pool, taskId)).toMatchObject({ changed: false, state: 'in_progress', retriedSteps: 0 });
    await expect(retryTask(db.pool, '01890000-0000-7000-8000-000000000000')).rejects.toBeInstanceOf(UnknownTaskError);
  });
});

describe('template_input_schema', () => {
  it('returns the schema of the version create_task would use', async () => {
    const schema = { type: 'object', required: ['id'] };
    await registerTemplate(db.pool, { ...single('schema_ns'), version: '1.0.0' });
    await registerTemplate(db.pool, { ...single('schema_ns'), version: '1.10.0', input_schema: schema });
    await registerTemplate(db.pool, { ...single('schema_ns'), version: '1.9.0' });
    const hash = expect.stringMatching(/^[0-9a-f]{32}$/);
    expect(await templateInputSchema(db.pool, 'schema_ns', 'single')).toEqual({ version: '1.10.0', inputSchema: schema, definitionHash: hash });
    expect(await templateInputSchema(db.pool, 'schema_ns', 'single', '1.0.0')).toEqual({ version: '1.0.0', inputSchema: null, definitionHash: hash });
    expect(await templateInputSchema(db.pool, 'schema_ns', 'nope')).toBeNull();
  });
});
