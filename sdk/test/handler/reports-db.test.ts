/**
 * The reports executeStep makes, sent to the real SQL protocol: each outcome must be accepted
 * and have the effect its name promises. Also pins the PostgreSQL behaviour that makes the
 * result check refuse NUL characters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HandlerRegistry,
  PermanentError,
  RetryableError,
  createStepLogger,
  decide,
  defineHandler,
  executeStep,
  fanOut,
} from '../../src/handler/index.ts';
import {
  claimSteps,
  createTask,
  getTaskStatus,
  registerTemplate,
  reportStep,
  type ClaimedStep,
  type StepReport,
  type TaskStatus,
} from '../../src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

const registry = new HandlerRegistry([
  defineHandler('rep.score', (ctx) => decide(Number(ctx.context['amount']) > 100 ? ['review'] : ['approve'], { at: new Date(0).toISOString() })),
  defineHandler('rep.approve', () => ({ approved: true })),
  defineHandler('rep.review', () => {
    throw new PermanentError('reviewer unavailable', { details: { queue: 'manual' } });
  }),
  defineHandler('rep.nul', () => ({ s: 'a\u0000b' })),
  defineHandler('rep.flaky', () => {
    throw new RetryableError('try later', { retryAfterMs: 60_000 });
  }),
  defineHandler<{ numbers: number[] }>('rep.split', (ctx) => fanOut(ctx.context.numbers, { count: ctx.context.numbers.length })),
  defineHandler('rep.part', (ctx) => {
    const { item, index, size } = ctx.batchItem<number>();
    return { doubled: item * 2, of: `${index + 1}/${size}` };
  }),
  defineHandler('rep.total', (ctx) => ({
    parts: ctx.batchResults<{ doubled: number; of: string }>('part'),
    split: ctx.dependencyResult('split'),
  })),
]);

async function claimOne(namespace: string): Promise<ClaimedStep> {
  for (let i = 0; i < 50; i++) {
    const { claimed } = await claimSteps(db.pool, { namespace, batchSize: 1, leaseSeconds: 30 });
    if (claimed[0] !== undefined) return claimed[0];
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing to claim in ${namespace}`);
}

async function runOne(namespace: string): Promise<{ step: ClaimedStep; report: StepReport }> {
  const step = await claimOne(namespace);
  const logger = createStepLogger(() => {}, { taskId: step.taskId, stepId: step.stepId, stepName: step.stepName, correlationId: step.correlationId, handler: step.handler });
  const report = await executeStep(registry.get(step.handler), step, { signal: new AbortController().signal, logger, knownHandlers: registry.names() });
  const result = await reportStep(db.pool, report);
  expect(result.accepted, result.reason ?? '').toBe(true);
  return { step, report };
}

async function status(taskId: string): Promise<TaskStatus> {
  const found = await getTaskStatus(db.pool, taskId);
  if (found === null) throw new Error('task vanished');
  return found;
}

describe('executeStep reports against the SQL protocol', () => {
  beforeAll(async () => {
    await registerTemplate(db.pool, {
      namespace: 'rep',
      name: 'approval',
      version: '1.0.0',
      steps: [
        { name: 'score', handler: 'rep.score', type: 'decision' },
        { name: 'approve', handler: 'rep.approve', dependencies: ['score'] },
        { name: 'review', handler: 'rep.review', dependencies: ['score'] },
      ],
    });
    await registerTemplate(db.pool, {
      namespace: 'rep_retry',
      name: 'flaky',
      version: '1.0.0',
      steps: [{ name: 'call', handler: 'rep.flaky' }],
    });
    await registerTemplate(db.pool, { namespace: 'rep_nul', name: 'nul', version: '1.0.0', steps: [{ name: 'nul', handler: 'rep.nul' }] });
    await registerTemplate(db.pool, {
      namespace: 'rep_batch',
      name: 'doubling',
      version: '1.0.0',
      steps: [
        { name: 'split', handler: 'rep.split', type: 'batch' },
        { name: 'part', handler: 'rep.part', dependencies: ['split'] },
        { name: 'total', handler: 'rep.total', dependencies: ['part'] },
      ],
    });
  });

  it('a fan-out runs one instance per item and the convergence step gets their results in order', async () => {
    const { taskId } = await createTask(db.pool, { namespace: 'rep_batch', name: 'doubling', context: { numbers: [5, 6, 7] } });
    expect((await runOne('rep_batch')).report).toMatchObject({ outcome: 'success', result: { count: 3 }, batch: [5, 6, 7] });
    for (let i = 0; i < 3; i++) expect((await runOne('rep_batch')).report.outcome).toBe('success');
    const { report } = await runOne('rep_batch');
    expect(report.result).toEqual({
      parts: [
        { doubled: 10, of: '1/3' },
        { doubled: 12, of: '2/3' },
        { doubled: 14, of: '3/3' },
      ],
      split: { count: 3 },
    });
    expect((await status(taskId)).state).toBe('complete');
  });

  it('a decision activates one branch and skips the other; the chosen branch succeeds', async () => {
    const { taskId } = await createTask(db.pool, { namespace: 'rep', name: 'approval', context: { amount: 5 } });
    expect((await runOne('rep')).report).toMatchObject({ outcome: 'success', activate: ['approve'], result: { at: '1970-01-01T00:00:00.000Z' } });
    expect((await runOne('rep')).report.outcome).toBe('success');
    const final = await status(taskId);
    expect(final.state).toBe('complete');
    expect(Object.fromEntries(final.steps.map((s) => [s.name, s.state]))).toEqual({ score: 'complete', approve: 'complete', review: 'skipped' });
  });

  it('a PermanentError errors the step and the task, keeping the error document', async () => {
    const { taskId } = await createTask(db.pool, { namespace: 'rep', name: 'approval', context: { amount: 500 } });
    await runOne('rep');
    await runOne('rep');
    const final = await status(taskId);
    expect(final.state).toBe('error');
    const review = final.steps.find((s) => s.name === 'review');
    expect(review?.last_error).toMatchObject({ kind: 'PermanentError', message: 'reviewer unavailable', details: { queue: 'manual' } });
  });

  it('a RetryableError schedules the next attempt after retryAfterMs', async () => {
    const { taskId } = await createTask(db.pool, { namespace: 'rep_retry', name: 'flaky' });
    const before = Date.now();
    await runOne('rep_retry');
    const call = (await status(taskId)).steps.find((s) => s.name === 'call');
    expect(call?.state).toBe('waiting_for_retry');
    expect(Date.parse(call?.next_retry_at ?? '') - before).toBeGreaterThanOrEqual(59_000);
    expect(call?.last_error).toMatchObject({ kind: 'RetryableError', message: 'try later' });
  });

  it('PostgreSQL refuses NUL characters and unpaired surrogates in jsonb, which is why results with them are rejected before the report', async () => {
    await expect(db.pool.query(`SELECT '{"s": "a\\u0000b"}'::jsonb`)).rejects.toThrow(/unsupported Unicode escape sequence/);
    // Unpaired surrogates, as JSON.stringify escapes them, are refused too.
    await expect(db.pool.query('SELECT $1::jsonb', [JSON.stringify({ s: 'x\uD800' })])).rejects.toThrow(/invalid input syntax for type json/);
    const { taskId } = await createTask(db.pool, { namespace: 'rep_nul', name: 'nul' });
    const { report } = await runOne('rep_nul');
    expect(report.error).toMatchObject({
      kind: 'ResultNotSerializable',
      message: 'result.s: string contains a NUL character (\\u0000), which PostgreSQL cannot store',
    });
    expect((await status(taskId)).state).toBe('error');
  });
});
