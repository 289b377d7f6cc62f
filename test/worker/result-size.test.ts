/**
 * A result too large for one report is a permanent ResultTooLarge failure on every binding,
 * decided before any core sees it. Before, the native cores refused a report over 64 MiB at their
 * boundary while pg committed it, and on napi the step then stayed in flight, its lease extended
 * for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStepLogger, defineHandler, executeStep, fanOut } from '../../sdk/src/handler/index.ts';
import { MAX_RESULT_BYTES } from '../../sdk/src/handler/success-outcome.ts';
import { jsonBytesBeyond } from '../../sdk/src/json/json-size.ts';
import { claimedStep } from '../../sdk/test/handler/claimed-step.ts';
import { closeEnv, openEnv, runTask, startWorker, type Env } from './worker-env.ts';

const logger = createStepLogger(() => {}, { taskId: 't', stepId: 's', stepName: 'n', correlationId: 'c', handler: 'h.x' });
const run = (fn: () => unknown, stepType: 'standard' | 'batch' = 'standard') =>
  executeStep(defineHandler('h.x', fn), claimedStep({ handler: 'h.x', stepType, successors: ['work'] }), {
    signal: new AbortController().signal,
    logger,
  });

describe('jsonBytesBeyond', () => {
  it('measures the written JSON in UTF-8 once it may pass the limit', () => {
    const value = { k: ['é'.repeat(10), '😀', '\u0001', 'a"b'] };
    const exact = new TextEncoder().encode(JSON.stringify(value)).length;
    expect(jsonBytesBeyond(value, 10)).toBe(exact);
    expect(jsonBytesBeyond(value, 10_000), 'a small value is settled by the cheap walk').toBe(0);
  });
});

describe('executeStep', () => {
  it('fails a result over MAX_RESULT_BYTES permanently, saying how large it was', async () => {
    const report = await run(() => 'a'.repeat(MAX_RESULT_BYTES));
    expect(report).toMatchObject({
      outcome: 'permanent_failure',
      error: { kind: 'ResultTooLarge', details: { bytes: MAX_RESULT_BYTES + 2, maxBytes: MAX_RESULT_BYTES } },
    });
  });

  it('counts multi-byte characters as their UTF-8 bytes', async () => {
    // Under the limit in UTF-16 units, over it in UTF-8.
    const report = await run(() => 'é'.repeat(MAX_RESULT_BYTES / 2 + 1));
    expect(report).toMatchObject({ outcome: 'permanent_failure', error: { kind: 'ResultTooLarge' } });
  });

  it('counts a batch step\'s items with its result', async () => {
    const half = 'a'.repeat(MAX_RESULT_BYTES / 2);
    const report = await run(() => fanOut([half], { note: half }), 'batch');
    expect(report).toMatchObject({ outcome: 'permanent_failure', error: { kind: 'ResultTooLarge' } });
  });

  it('lets a result just under the limit through', async () => {
    const report = await run(() => 'a'.repeat(MAX_RESULT_BYTES - 2));
    expect(report.outcome).toBe('success');
  });
});

let env: Env;
beforeAll(async () => {
  env = await openEnv();
});
afterAll(async () => {
  await closeEnv(env);
});

describe.each(['pg', 'napi'] as const)('a worker over %s', (binding) => {
  it('ends the step of a 65 MiB result as a ResultTooLarge failure', { timeout: 60_000 }, async () => {
    const ns = `big_${binding}`;
    const big = defineHandler('h.big', () => 'a'.repeat(65 * 1024 * 1024));
    await startWorker(env, binding, ns, [big]);
    const taskId = await runTask(env, ns, [{ name: 's', handler: 'h.big', retry: { max_attempts: 3 } }]);
    const task = await env.client.waitForTask(taskId, { timeoutMs: 30_000 });
    expect(task.state).toBe('error');
    expect(task.steps[0]?.error).toMatchObject({ kind: 'ResultTooLarge' });
  });
});
