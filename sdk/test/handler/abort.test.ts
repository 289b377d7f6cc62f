import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  StepCancelledError,
  StepTimeoutError,
  WorkerShutdownError,
  createStepLogger,
  defineHandler,
  executeStep,
  type HandlerDefinition,
  type LogRecord,
} from '../../src/handler/index.ts';
import type { StepReport } from '../../src/protocol/index.ts';
import { claimedStep } from './claimed-step.ts';

function setup(handler: HandlerDefinition): { controller: AbortController; logs: LogRecord[]; result: Promise<StepReport> } {
  const controller = new AbortController();
  const logs: LogRecord[] = [];
  const step = claimedStep();
  const logger = createStepLogger((r) => logs.push(r), {
    taskId: step.taskId,
    stepId: step.stepId,
    stepName: step.stepName,
    correlationId: step.correlationId,
    handler: step.handler,
  });
  return { controller, logs, result: executeStep(handler, step, { signal: controller.signal, logger }) };
}

const never = defineHandler('shop.charge', () => new Promise<never>(() => {}));
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('executeStep: aborts', () => {
  it('resolves at once when the signal aborts, even if the handler never settles (timeout → retryable StepTimeout)', async () => {
    const { controller, result } = setup(never);
    await tick();
    const started = Date.now();
    controller.abort(new StepTimeoutError(50));
    const report = await result;
    expect(Date.now() - started).toBeLessThan(100);
    expect(report).toMatchObject({
      outcome: 'retryable_failure',
      error: { kind: 'StepTimeout', message: 'the step did not finish within its timeout of 50 ms', details: { timeoutMs: 50 } },
    });
  });

  it('reports cancellation as a retryable StepCancelled failure (it ends the step of a stopped task all the same)', async () => {
    const { controller, result } = setup(never);
    await tick();
    controller.abort(new StepCancelledError('the task was cancelled by ops'));
    expect(await result).toMatchObject({
      outcome: 'retryable_failure',
      error: { kind: 'StepCancelled', message: 'the step was cancelled: the task was cancelled by ops' },
    });
  });

  it('reports shutdown as a retryable WorkerShutdown failure', async () => {
    const { controller, result } = setup(never);
    await tick();
    controller.abort(new WorkerShutdownError());
    expect(await result).toMatchObject({ outcome: 'retryable_failure', error: { kind: 'WorkerShutdown' } });
  });

  it('does not call the handler when the signal is already aborted', async () => {
    let called = false;
    const controller = new AbortController();
    controller.abort(new WorkerShutdownError());
    const step = claimedStep();
    const report = await executeStep(
      defineHandler('shop.charge', () => {
        called = true;
      }),
      step,
      { signal: controller.signal, logger: createStepLogger(() => {}, { taskId: '', stepId: '', stepName: '', correlationId: '', handler: '' }) },
    );
    expect(called).toBe(false);
    expect(report).toMatchObject({ stepId: 's-1', attempt: 1, delivery: 1, outcome: 'retryable_failure', error: { kind: 'WorkerShutdown' } });
  });

  it('lets a handler see the abort through ctx.signal, and logs its late stop at debug only', async () => {
    let reason: unknown;
    const { controller, result, logs } = setup(
      defineHandler('shop.charge', (ctx) => new Promise((_, reject) => {
        ctx.signal.addEventListener('abort', () => {
          reason = ctx.signal.reason;
          reject(ctx.signal.reason);
        });
      })),
    );
    await tick();
    const timeout = new StepTimeoutError(10);
    controller.abort(timeout);
    expect((await result).error?.['kind']).toBe('StepTimeout');
    await tick();
    expect(reason).toBe(timeout);
    expect(logs.map((l) => [l.level, l.message])).toEqual([['debug', 'the handler stopped after its step was aborted']]);
  });

  it('logs a warning when a handler that ignored the abort finishes later, and keeps its report', async () => {
    let finish: (value: unknown) => void = () => {};
    const { controller, result, logs } = setup(defineHandler('shop.charge', () => new Promise((resolve) => (finish = resolve))));
    await tick();
    controller.abort(new StepTimeoutError(10));
    const report = await result;
    finish({ late: true });
    await tick();
    expect(report.outcome).toBe('retryable_failure');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ level: 'warn', message: 'the handler returned after its step was aborted; its result was discarded' });
    expect(logs[0]?.fields['stepId']).toBe('s-1');
  });

  it('does not leave an unhandled rejection when a handler rejects after the abort', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let fail: (error: Error) => void = () => {};
      const { controller, result, logs } = setup(defineHandler('shop.charge', () => new Promise((_, reject) => (fail = reject))));
      await tick();
      controller.abort(new WorkerShutdownError());
      await result;
      fail(new Error('late failure'));
      await tick();
      expect(unhandled).toEqual([]);
      expect(logs[0]).toMatchObject({ level: 'warn', message: 'the handler threw after its step was aborted; its error was discarded' });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('maps an abort without a Tasker reason to StepAborted, and AbortSignal.timeout to StepTimeout', async () => {
    const plain = setup(never);
    await tick();
    plain.controller.abort();
    expect(await plain.result).toMatchObject({ outcome: 'retryable_failure', error: { kind: 'StepAborted' } });

    const step = claimedStep();
    const logger = createStepLogger(() => {}, { taskId: '', stepId: '', stepName: '', correlationId: '', handler: '' });
    const report = await executeStep(never, step, { signal: AbortSignal.timeout(20), logger });
    expect(report).toMatchObject({ outcome: 'retryable_failure', error: { kind: 'StepTimeout' } });
  });

  it('a handler that finishes before the abort is reported normally and the abort listener is removed', async () => {
    const controller = new AbortController();
    const step = claimedStep();
    const logs: LogRecord[] = [];
    const logger = createStepLogger((r) => logs.push(r), { taskId: '', stepId: '', stepName: '', correlationId: '', handler: '' });
    let listenersWhileRunning = -1;
    const handler = defineHandler('shop.charge', async () => {
      listenersWhileRunning = getEventListeners(controller.signal, 'abort').length;
      return 'done';
    });
    const report = await executeStep(handler, step, { signal: controller.signal, logger });
    expect(listenersWhileRunning, 'executeStep listens while the handler runs').toBeGreaterThanOrEqual(1);
    expect(getEventListeners(controller.signal, 'abort'), 'and stops listening once it settled').toHaveLength(0);
    controller.abort(new StepTimeoutError(1));
    await tick();
    expect(report.outcome).toBe('success');
    expect(logs).toEqual([]);
  });
});
