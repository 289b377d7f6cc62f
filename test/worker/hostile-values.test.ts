/**
 * Values no handler should produce, which the worker must still turn into reports without
 * crashing or losing the step: an object whose getters throw the object itself (its description
 * threw three times over, and the worker process died of the unhandled rejection on Node), an
 * Error whose message getter throws (V8 reads it for the lazy `stack`), and a WorkerShutdownError
 * a handler throws while the worker runs (it was taken for the worker's own shutdown abort and
 * never reported).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStepLogger, defineHandler, executeStep, WorkerShutdownError } from '../../sdk/src/handler/index.ts';
import type { ClaimedStep } from '../../sdk/src/protocol/types.ts';
import { claimedStep } from '../../sdk/test/handler/claimed-step.ts';
import { BINDINGS, closeEnv, openEnv, runTask, startWorker, type Env } from './worker-env.ts';

/** An object whose enumerable getter and Symbol.toStringTag getter throw the object itself. */
function selfThrowing(): Record<string | symbol, unknown> {
  const thrown: Record<string | symbol, unknown> = {};
  Object.defineProperty(thrown, 'detail', { enumerable: true, get: () => { throw thrown; } });
  Object.defineProperty(thrown, Symbol.toStringTag, { get: () => { throw thrown; } });
  return thrown;
}

const logger = createStepLogger(() => {}, { taskId: 't', stepId: 's', stepName: 'n', correlationId: 'c', handler: 'h.x' });
const step: ClaimedStep = claimedStep({ handler: 'h.x' });
const run = (fn: () => unknown) => executeStep(defineHandler('h.x', fn), step, { signal: new AbortController().signal, logger });

describe('executeStep never throws', () => {
  it('a thrown self-throwing object is a retryable failure', async () => {
    await expect(run(() => { throw selfThrowing(); })).resolves.toMatchObject({ outcome: 'retryable_failure', error: { kind: 'NonErrorThrown' } });
  });

  it('a returned self-throwing object is a failure, not a throw', async () => {
    await expect(run(() => ({ nested: selfThrowing() }))).resolves.toMatchObject({ stepId: step.stepId });
  });

  it('an Error whose message getter throws keeps its name', async () => {
    const error = new TypeError('original');
    Object.defineProperty(error, 'message', { get: () => { throw new Error('unreadable'); } });
    await expect(run(() => { throw error; })).resolves.toMatchObject({
      outcome: 'retryable_failure',
      error: { kind: 'TypeError', message: '(the error message could not be read)' },
    });
  });
});

let env: Env;
beforeAll(async () => {
  env = await openEnv();
});
afterAll(async () => {
  await closeEnv(env);
});

describe.each(BINDINGS)('a worker over %s', (binding) => {
  it('records a self-throwing object as the step\'s failure and serves the next step', { timeout: 40_000 }, async () => {
    const ns = `hostile_${binding}`;
    const hostile = defineHandler('h.hostile', () => { throw selfThrowing(); });
    const fine = defineHandler('h.fine', () => ({ ok: true }));
    const { worker } = await startWorker(env, binding, ns, [hostile, fine]);
    const bad = await runTask(env, ns, [{ name: 's', handler: 'h.hostile', retry: { max_attempts: 1 } }], {}, 'bad');
    expect((await env.client.waitForTask(bad, { timeoutMs: 15_000 })).state).toBe('error');
    const good = await runTask(env, ns, [{ name: 's', handler: 'h.fine' }], {}, 'good');
    expect((await env.client.waitForTask(good, { timeoutMs: 15_000 })).state).toBe('complete');
    // The task's notification may come before the worker has read its report's answer.
    await expect.poll(() => worker.stats()).toMatchObject({ failed: 1, succeeded: 1, running: 0, reporting: 0 });
  });

  it('reports a WorkerShutdownError a handler throws while the worker runs', { timeout: 40_000 }, async () => {
    const ns = `own_shutdown_${binding}`;
    let calls = 0;
    const rethrows = defineHandler('h.rethrows', () => {
      calls += 1;
      // A handler passing on the error of an in-process component that is shutting down.
      if (calls === 1) throw new WorkerShutdownError('the cache client is shutting down');
      return { calls };
    });
    const { worker } = await startWorker(env, binding, ns, [rethrows]);
    const id = await runTask(env, ns, [{ name: 's', handler: 'h.rethrows', retry: { max_attempts: 3, backoff_ms: 0 } }]);
    expect((await env.client.waitForTask(id, { timeoutMs: 15_000 })).state).toBe('complete');
    await expect.poll(() => worker.stats()).toMatchObject({ retried: 1, succeeded: 1, abandoned: 0 });
  });
});
