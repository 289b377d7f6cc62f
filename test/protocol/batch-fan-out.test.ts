/**
 * Migration 0010: batch fan-out. A batch step's success carries items; its batch worker step is
 * replaced by one instance per item in the same transaction, and the convergence step runs once,
 * after all of them, with every instance's result.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStepContext, createStepLogger } from '../../sdk/src/handler/index.ts';
import {
  InvalidTemplateError,
  cancelTask,
  claimSteps,
  createTask,
  extendLeases,
  getTaskStatus,
  registerTemplate,
  reportStep,
  reportSteps,
  retryTask,
  type ClaimedStep,
  type JsonValue,
  type ReportResult,
  type StepReport,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { queueMessages } from '../support/queue.ts';
import { batchPipeline, single, template } from '../support/templates.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

async function claimAll(namespace: string, batchSize = 1000): Promise<ClaimedStep[]> {
  return (await claimSteps(db.pool, { namespace, batchSize, leaseSeconds: 30 })).claimed;
}

async function claimNamed(namespace: string, name: string): Promise<ClaimedStep> {
  const claimed = await claimAll(namespace);
  const step = claimed.find((s) => s.stepName === name);
  if (step === undefined || claimed.length !== 1) {
    throw new Error(`expected only ${name} in ${namespace}, claimed: ${claimed.map((s) => s.stepName).join(', ') || 'nothing'}`);
  }
  return step;
}

function lease(step: ClaimedStep): Pick<StepReport, 'stepId' | 'attempt' | 'delivery'> {
  return { stepId: step.stepId, attempt: step.attempt, delivery: step.delivery };
}

function succeed(step: ClaimedStep, result: JsonValue = { ok: step.stepName }): Promise<ReportResult> {
  return reportStep(db.pool, { ...lease(step), outcome: 'success', result });
}

function fanOut(step: ClaimedStep, items: JsonValue[], result: JsonValue = { split: true }): Promise<ReportResult> {
  return reportStep(db.pool, { ...lease(step), outcome: 'success', result, batch: items });
}

async function stepStates(taskId: string): Promise<Record<string, string>> {
  const status = await getTaskStatus(db.pool, taskId);
  return Object.fromEntries((status?.steps ?? []).map((s) => [s.name, s.state]));
}

async function transitions(taskId: string, name: string): Promise<Array<{ to_state: string; actor: string; reason: string | null }>> {
  const { rows } = await db.pool.query(
    `SELECT t.to_state, t.actor, t.reason FROM tasker.step_transitions t
     JOIN tasker.workflow_steps s ON s.step_id = t.step_id
     WHERE s.task_id = $1 AND s.name = $2 ORDER BY t.transition_id`,
    [taskId, name],
  );
  return rows;
}

/** Creates a batch_pipeline task in `namespace` and claims its batch step. */
async function startBatch(namespace: string, options: { convergence?: boolean } = {}): Promise<{ taskId: string; split: ClaimedStep }> {
  await registerTemplate(db.pool, batchPipeline(namespace, options));
  const { taskId } = await createTask(db.pool, { namespace, name: 'batch_pipeline' });
  return { taskId, split: await claimNamed(namespace, 'split') };
}

describe('fan-out', () => {
  it('replaces the worker step by one instance per item, with its settings and the item in its inputs', async () => {
    const { taskId, split } = await startBatch('fan_ns');
    expect(split).toMatchObject({ stepType: 'batch', successors: ['work'] });
    const report = await reportStep(
      db.pool,
      { ...lease(split), outcome: 'success', result: { rows: 3 }, batch: ['a', { b: 2 }, [3]] },
      'splitter',
    );
    expect(report).toMatchObject({ accepted: true, stepState: 'complete', taskState: 'in_progress', enqueued: 3 });

    expect(await stepStates(taskId)).toEqual({
      split: 'complete',
      work: 'skipped',
      merge: 'pending',
      'work[0]': 'enqueued',
      'work[1]': 'enqueued',
      'work[2]': 'enqueued',
    });
    const { rows } = await db.pool.query(
      `SELECT name, handler, step_type, inputs, max_attempts, backoff_ms, max_backoff_ms, timeout_ms, max_deliveries, retryable
       FROM tasker.workflow_steps WHERE task_id = $1 AND name LIKE 'work[%' ORDER BY name`,
      [taskId],
    );
    expect(rows).toEqual(
      [
        ['work[0]', 'a', 0],
        ['work[1]', { b: 2 }, 1],
        ['work[2]', [3], 2],
      ].map(([name, item, index]) => ({
        name,
        handler: 'h.work',
        step_type: 'standard',
        inputs: { factor: 10, batch_item: item, batch_index: index, batch_size: 3 },
        max_attempts: 2,
        backoff_ms: 0,
        max_backoff_ms: 0,
        timeout_ms: 4321,
        max_deliveries: 7,
        retryable: true,
      })),
    );

    // Who and why, in the transition log.
    expect(await transitions(taskId, 'work')).toEqual([
      { to_state: 'pending', actor: 'client', reason: 'task created' },
      { to_state: 'skipped', actor: 'splitter', reason: 'replaced by 3 batch instances when "split" completed' },
    ]);
    expect(await transitions(taskId, 'work[1]')).toEqual([
      { to_state: 'pending', actor: 'splitter', reason: 'batch instance created by "split"' },
      { to_state: 'enqueued', actor: 'splitter', reason: 'dependencies complete' },
    ]);
    expect((await transitions(taskId, 'split')).at(-1)).toEqual({
      to_state: 'complete',
      actor: 'splitter',
      reason: 'handler succeeded; fanned out 3 items',
    });

    // Dependencies as the status shows them: merge waits for split and every instance.
    const status = await getTaskStatus(db.pool, taskId);
    const deps = Object.fromEntries(status!.steps.map((s) => [s.name, s.dependencies]));
    expect(deps).toMatchObject({ work: ['split'], 'work[0]': ['split'], merge: ['split', 'work[0]', 'work[1]', 'work[2]'] });

    const instances = await claimAll('fan_ns');
    expect(instances.map((s) => [s.stepName, s.dependencyResults, s.successors, s.dependencyNames])).toEqual([
      ['work[0]', { split: { rows: 3 } }, ['merge'], ['split']],
      ['work[1]', { split: { rows: 3 } }, ['merge'], ['split']],
      ['work[2]', { split: { rows: 3 } }, ['merge'], ['split']],
    ]);
    for (const [i, step] of instances.entries()) {
      expect(await succeed(step, { doubled: i * 2 })).toMatchObject({ enqueued: i === 2 ? 1 : 0, taskState: 'in_progress' });
    }
    const merge = await claimNamed('fan_ns', 'merge');
    expect(merge.dependencyResults).toEqual({
      split: { rows: 3 },
      'work[0]': { doubled: 0 },
      'work[1]': { doubled: 2 },
      'work[2]': { doubled: 4 },
    });
    expect(await succeed(merge)).toMatchObject({ taskState: 'complete' });
    expect(await queueMessages(db.pool, 'fan_ns')).toEqual([]);
  });

  it('with no items runs the convergence step at once, with the batch step result', async () => {
    const { taskId, split } = await startBatch('fan_zero_ns');
    expect(await fanOut(split, [], { rows: 0 })).toMatchObject({ accepted: true, enqueued: 1, taskState: 'in_progress' });
    expect(await stepStates(taskId)).toEqual({ split: 'complete', work: 'skipped', merge: 'enqueued' });
    const merge = await claimNamed('fan_zero_ns', 'merge');
    expect(merge.dependencyResults).toEqual({ split: { rows: 0 } });
    // The template's dependency, the worker step, is named: the handler can tell this empty batch
    // from a misspelt worker step name.
    expect(merge.dependencyNames).toEqual(['work']);
    const ctx = createStepContext(merge, {
      signal: new AbortController().signal,
      logger: createStepLogger(() => {}, { taskId, stepId: merge.stepId, stepName: 'merge', correlationId: '', handler: 'h.merge' }),
    });
    expect(ctx.batchResults('work')).toEqual([]);
    expect(() => ctx.batchResults('wrok')).toThrow('step "merge" has no dependency named "wrok"; its dependencies are: work');
    expect(await succeed(merge)).toMatchObject({ taskState: 'complete' });
  });

  it('with no items and no convergence step completes the task', async () => {
    const { taskId, split } = await startBatch('fan_zero_end_ns', { convergence: false });
    expect(await fanOut(split, [])).toMatchObject({ accepted: true, enqueued: 0, taskState: 'complete' });
    expect(await stepStates(taskId)).toEqual({ split: 'complete', work: 'skipped' });
  });

  it('with one item runs one instance, then the convergence step', async () => {
    const { taskId, split } = await startBatch('fan_one_ns');
    expect(await fanOut(split, [{ only: true }])).toMatchObject({ enqueued: 1 });
    const only = await claimNamed('fan_one_ns', 'work[0]');
    expect(only.inputs).toEqual({ factor: 10, batch_item: { only: true }, batch_index: 0, batch_size: 1 });
    expect(await succeed(only, 'done')).toMatchObject({ enqueued: 1 });
    const merge = await claimNamed('fan_one_ns', 'merge');
    expect(merge.dependencyResults['work[0]']).toBe('done');
    await succeed(merge);
    expect((await getTaskStatus(db.pool, taskId))?.state).toBe('complete');
  });

  it('runs 200 instances reported in shuffled batches; the convergence step gets every result in item order', async () => {
    const { taskId, split } = await startBatch('fan_many_ns');
    const items = Array.from({ length: 200 }, (_, i) => ({ chunk: i }));
    expect(await fanOut(split, items)).toMatchObject({ enqueued: 200 });
    const instances = await claimAll('fan_many_ns');
    expect(instances).toHaveLength(200);
    // Report out of order, 50 per round trip, through the set-wise path of report_steps.
    const position = (step: ClaimedStep) => ((step.inputs['batch_index'] as number) * 37) % 200;
    const shuffled = [...instances].sort((a, b) => position(a) - position(b));
    for (let start = 0; start < shuffled.length; start += 50) {
      const round = shuffled.slice(start, start + 50);
      const results = await reportSteps(
        db.pool,
        round.map((step) => ({ ...lease(step), outcome: 'success' as const, result: { index: step.inputs['batch_index'] as number } })),
      );
      expect(results.every((r) => r.accepted && r.stepState === 'complete')).toBe(true);
      const last = start + 50 >= shuffled.length;
      expect((await stepStates(taskId))['merge'], `after reports ${start}..${start + 49}`).toBe(last ? 'enqueued' : 'pending');
    }
    expect((await transitions(taskId, 'merge')).filter((t) => t.to_state === 'enqueued')).toHaveLength(1);
    const merge = await claimNamed('fan_many_ns', 'merge');
    expect(Object.keys(merge.dependencyResults)).toHaveLength(201);

    // The handler's view: ctx.batchResults() in item order, whatever order the keys come in.
    const ctx = createStepContext(merge, {
      signal: new AbortController().signal,
      logger: createStepLogger(() => {}, { taskId, stepId: merge.stepId, stepName: 'merge', correlationId: '', handler: 'h.merge' }),
    });
    expect(ctx.batchResults<{ index: number }>('work').map((r) => r.index)).toEqual(items.map((_, i) => i));
    expect(await succeed(merge)).toMatchObject({ taskState: 'complete' });
  });

  it('fans out the maximum, 10,000 items, in one report (the statements stay linear in the rows they change)', async () => {
    const { taskId, split } = await startBatch('fan_max_ns');
    const started = Date.now();
    const report = await fanOut(split, Array.from({ length: 10_000 }, (_, i) => i));
    // Quadratic enqueueing or transition logging took minutes here; linear takes seconds.
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(report).toMatchObject({ accepted: true, enqueued: 10_000 });
    const { rows } = await db.pool.query(
      `SELECT count(*) FILTER (WHERE state = 'enqueued')::int AS enqueued,
              count(DISTINCT msg_id)::int AS messages,
              count(*)::int AS instances
       FROM tasker.workflow_steps WHERE task_id = $1 AND name ~ '^work\[[0-9]+\]$'`,
      [taskId],
    );
    expect(rows[0]).toEqual({ enqueued: 10_000, messages: 10_000, instances: 10_000 });
    expect(await queueMessages(db.pool, 'fan_max_ns')).toHaveLength(10_000);
  }, 180_000);

  it('enqueues the convergence step exactly once when the last instances report at the same moment', async () => {
    await registerTemplate(db.pool, batchPipeline('fan_race_ns'));
    const tasks = 6;
    for (let i = 0; i < tasks; i++) await createTask(db.pool, { namespace: 'fan_race_ns', name: 'batch_pipeline' });
    for (const split of await claimAll('fan_race_ns')) await fanOut(split, [1, 2, 3, 4]);
    const instances = await claimAll('fan_race_ns');
    expect(instances).toHaveLength(tasks * 4);

    const clients = await Promise.all(
      instances.map(async () => {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        return client;
      }),
    );
    try {
      await Promise.all(instances.map((step, i) => reportStep(clients[i]!, { ...lease(step), outcome: 'success', result: i })));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const merges = await claimAll('fan_race_ns');
    expect(merges.map((m) => m.stepName)).toEqual(Array(tasks).fill('merge'));
    expect(new Set(merges.map((m) => m.taskId)).size).toBe(tasks);
    for (const merge of merges) {
      expect(Object.keys(merge.dependencyResults).sort()).toEqual(['split', 'work[0]', 'work[1]', 'work[2]', 'work[3]']);
      expect((await transitions(merge.taskId, 'merge')).filter((t) => t.to_state === 'enqueued')).toHaveLength(1);
    }
  });

  it('goes through report_steps without the fast path swallowing the items', async () => {
    await registerTemplate(db.pool, single('fan_mixed_ns'));
    await registerTemplate(db.pool, batchPipeline('fan_mixed_ns'));
    const plain = await createTask(db.pool, { namespace: 'fan_mixed_ns', name: 'single' });
    const batch = await createTask(db.pool, { namespace: 'fan_mixed_ns', name: 'batch_pipeline' });
    const [only, split] = await claimAll('fan_mixed_ns').then((steps) => [
      steps.find((s) => s.taskId === plain.taskId)!,
      steps.find((s) => s.taskId === batch.taskId)!,
    ]);
    const results = await reportSteps(db.pool, [
      { ...lease(only!), outcome: 'success', result: 1 },
      { ...lease(split!), outcome: 'success', result: 2, batch: ['x', 'y'] },
    ]);
    expect(results.map((r) => [r.accepted, r.stepState, r.taskState, r.enqueued])).toEqual([
      [true, 'complete', 'complete', 0],
      [true, 'complete', 'in_progress', 2],
    ]);
    expect(await stepStates(batch.taskId)).toMatchObject({ work: 'skipped', 'work[0]': 'enqueued', 'work[1]': 'enqueued' });
  });
});

describe('fan-out mistakes', () => {
  async function failure(namespace: string, report: (split: ClaimedStep) => Promise<ReportResult>) {
    const { taskId, split } = await startBatch(namespace);
    const result = await report(split);
    const status = await getTaskStatus(db.pool, taskId);
    return { result, error: status?.steps.find((s) => s.name === 'split')?.last_error, states: await stepStates(taskId) };
  }

  it('fails a batch step whose success has no items, and its task', async () => {
    const { result, error, states } = await failure('fan_none_ns', (split) => succeed(split, { rows: 2 }));
    expect(result).toMatchObject({ accepted: true, stepState: 'error', taskState: 'error' });
    expect(error).toMatchObject({ kind: 'InvalidFanOut', message: expect.stringMatching(/^batch step "split" did not fan out/) });
    expect(states).toEqual({ split: 'error', work: 'cancelled', merge: 'cancelled' });
  });

  it('fails a batch step with more items than the limit, creating no instance', async () => {
    const items = Array.from({ length: 10_001 }, (_, i) => i);
    const { result, error, states } = await failure('fan_big_ns', (split) => fanOut(split, items));
    expect(result).toMatchObject({ stepState: 'error', taskState: 'error' });
    expect(error?.['message']).toMatch(/batch step "split" fanned out 10001 items; the limit is 10000 per batch step/);
    expect(states).toEqual({ split: 'error', work: 'cancelled', merge: 'cancelled' });
  });

  it('fails items that are not a list', async () => {
    const { error } = await failure('fan_obj_ns', (split) =>
      reportStep(db.pool, { ...lease(split), outcome: 'success', batch: { not: 'a list' } as never }),
    );
    expect(error?.['message']).toBe('the items of batch step "split" must be a JSON array, got object');
  });

  it('fails items reported by a step that is not a batch step', async () => {
    await registerTemplate(db.pool, single('fan_std_ns'));
    const { taskId } = await createTask(db.pool, { namespace: 'fan_std_ns', name: 'single' });
    const [only] = await claimAll('fan_std_ns');
    expect(await fanOut(only!, [1])).toMatchObject({ stepState: 'error', taskState: 'error' });
    const error = (await getTaskStatus(db.pool, taskId))?.steps[0]?.last_error;
    expect(error).toMatchObject({ kind: 'InvalidFanOut', message: 'step "only" is a standard step and cannot fan out; only steps with type: batch do' });
  });

  it('register_template refuses a batch step without a worker step, naming the field', async () => {
    const error = await registerTemplate(db.pool, template('lonely', [{ name: 'split', handler: 'h', type: 'batch' }], 'fan_tpl_ns')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidTemplateError);
    expect((error as InvalidTemplateError).field).toBe('steps[0] (split).type');
    expect((error as Error).message).toMatch(/a batch step needs exactly one successor, its batch worker step/);
  });
});

describe('failures, retries and cancellation of instances', () => {
  it('a failing instance fails the task and cancels the rest; a running one may still report, starting nothing', async () => {
    const { taskId, split } = await startBatch('fan_fail_ns');
    await fanOut(split, [1, 2, 3]);
    const [first, second] = await claimAll('fan_fail_ns', 2);
    const report = await reportStep(db.pool, {
      ...lease(first!),
      outcome: 'permanent_failure',
      error: { kind: 'BadChunk', message: 'row 7 is broken' },
    });
    expect(report).toMatchObject({ stepState: 'error', taskState: 'error' });
    expect(await stepStates(taskId)).toEqual({
      split: 'complete',
      work: 'skipped',
      merge: 'cancelled',
      'work[0]': 'error',
      'work[1]': 'in_progress',
      'work[2]': 'cancelled',
    });
    expect(await succeed(second!)).toMatchObject({ accepted: true, stepState: 'complete', taskState: 'error', enqueued: 0 });
    expect(await claimAll('fan_fail_ns')).toEqual([]);
  });

  it('retry_task reruns the failed and cancelled instances, then the convergence step; the batch step is not rerun', async () => {
    const { taskId, split } = await startBatch('fan_retry_ns');
    await fanOut(split, ['a', 'b', 'c']);
    const [first, second] = await claimAll('fan_retry_ns', 2);
    await succeed(first!, 'A');
    await reportStep(db.pool, { ...lease(second!), outcome: 'permanent_failure', error: { kind: 'Boom', message: 'boom' } });
    expect((await getTaskStatus(db.pool, taskId))?.state).toBe('error');

    const retried = await retryTask(db.pool, taskId, { actor: 'operator' });
    // work[1] (error), work[2] and merge (cancelled) go back; work[1] and work[2] are ready.
    expect(retried).toMatchObject({ changed: true, state: 'in_progress', retriedSteps: 3, enqueuedSteps: 2 });
    expect(await stepStates(taskId)).toEqual({
      split: 'complete',
      work: 'skipped',
      merge: 'pending',
      'work[0]': 'complete',
      'work[1]': 'enqueued',
      'work[2]': 'enqueued',
    });
    const again = await claimAll('fan_retry_ns');
    // work[1] ran under attempt 1, so its new run counts on (0035); work[2] was never delivered.
    expect(again.map((s) => [s.stepName, s.attempt, s.inputs['batch_item']])).toEqual([
      ['work[1]', 2, 'b'],
      ['work[2]', 1, 'c'],
    ]);
    for (const step of again) await succeed(step, step.inputs['batch_item'] as string);
    const merge = await claimNamed('fan_retry_ns', 'merge');
    expect(merge.dependencyResults).toEqual({ split: { split: true }, 'work[0]': 'A', 'work[1]': 'b', 'work[2]': 'c' });
    expect(await succeed(merge)).toMatchObject({ taskState: 'complete' });
    expect((await transitions(taskId, 'split')).map((t) => t.to_state)).toEqual(['pending', 'enqueued', 'in_progress', 'complete']);
  });

  it('an instance retries with the worker step settings (max_attempts 2), then fails the task', async () => {
    const { taskId, split } = await startBatch('fan_attempts_ns');
    await fanOut(split, ['only']);
    const first = await claimNamed('fan_attempts_ns', 'work[0]');
    expect(first.maxAttempts).toBe(2);
    expect(await reportStep(db.pool, { ...lease(first), outcome: 'retryable_failure' })).toMatchObject({ stepState: 'waiting_for_retry' });
    const second = await claimNamed('fan_attempts_ns', 'work[0]');
    expect(second.attempt).toBe(2);
    expect(await reportStep(db.pool, { ...lease(second), outcome: 'retryable_failure' })).toMatchObject({
      stepState: 'error',
      taskState: 'error',
      reason: 'attempts exhausted (2 of 2)',
    });
    expect((await stepStates(taskId))['merge']).toBe('cancelled');
  });

  it('cancelling mid-batch cancels the instances not started and tells running ones to abort', async () => {
    const { taskId, split } = await startBatch('fan_cancel_ns');
    await fanOut(split, [1, 2, 3, 4]);
    const running = await claimAll('fan_cancel_ns', 2);
    await succeed(running[0]!);
    const cancelled = await cancelTask(db.pool, taskId, { reason: 'operator stop', actor: 'ops' });
    expect(cancelled).toMatchObject({ state: 'cancelled', changed: true, cancelledSteps: 3 }); // work[2], work[3], merge
    expect(await stepStates(taskId)).toMatchObject({
      'work[0]': 'complete',
      'work[1]': 'in_progress',
      'work[2]': 'cancelled',
      'work[3]': 'cancelled',
      merge: 'cancelled',
    });
    const [extension] = await extendLeases(db.pool, [running[1]!], 30);
    expect(extension).toMatchObject({ abort: true, taskState: 'cancelled' });
    expect(await succeed(running[1]!)).toMatchObject({ accepted: true, taskState: 'cancelled', enqueued: 0 });
    expect(await claimAll('fan_cancel_ns')).toEqual([]);
    // Only the hidden message of the step that was running is left, and its report removed it.
    expect(await queueMessages(db.pool, 'fan_cancel_ns')).toEqual([]);
  });

  it('a batch step that succeeds after its task failed is cancelled, and retry_task runs it again', async () => {
    await registerTemplate(
      db.pool,
      template(
        'two_roots',
        [
          { name: 'split', handler: 'h.split', type: 'batch' },
          { name: 'work', handler: 'h.work', dependencies: ['split'] },
          { name: 'other', handler: 'h.other' },
        ],
        'fan_late_ns',
      ),
    );
    const { taskId } = await createTask(db.pool, { namespace: 'fan_late_ns', name: 'two_roots' });
    const roots = await claimAll('fan_late_ns');
    const split = roots.find((s) => s.stepName === 'split')!;
    const other = roots.find((s) => s.stepName === 'other')!;
    await reportStep(db.pool, { ...lease(other), outcome: 'permanent_failure', error: { message: 'down' } });

    const late = await fanOut(split, [1, 2]);
    expect(late).toMatchObject({ accepted: true, stepState: 'cancelled', taskState: 'error', enqueued: 0 });
    expect(late.reason).toBe('task is error: the batch of 2 items was not fanned out; retry_task runs the step again');
    expect(await stepStates(taskId)).toEqual({ split: 'cancelled', work: 'cancelled', other: 'error' });

    expect(await retryTask(db.pool, taskId)).toMatchObject({ changed: true, enqueuedSteps: 2 });
    const rerun = await claimAll('fan_late_ns');
    expect(rerun.map((s) => s.stepName).sort()).toEqual(['other', 'split']);
    await fanOut(rerun.find((s) => s.stepName === 'split')!, [1]);
    await succeed(rerun.find((s) => s.stepName === 'other')!);
    await succeed(await claimNamed('fan_late_ns', 'work[0]'));
    expect((await getTaskStatus(db.pool, taskId))?.state).toBe('complete');
  });
});
