import { describe, expect, it } from 'vitest';
import {
  BatchTooLargeError,
  MAX_BATCH_ITEMS,
  PermanentError,
  RetryableError,
  createStepLogger,
  decide,
  defineHandler,
  executeStep,
  fanOut,
  type HandlerDefinition,
  type LogRecord,
  type StepContext,
} from '../../src/handler/index.ts';
import type { ClaimedStep, StepReport } from '../../src/protocol/index.ts';
import { claimedStep } from './claimed-step.ts';

const lease = { stepId: 's-1', attempt: 2, delivery: 3 };

async function run(
  handler: HandlerDefinition | undefined,
  step: Partial<ClaimedStep> = {},
  knownHandlers?: readonly string[],
): Promise<{ report: StepReport; logs: LogRecord[] }> {
  const logs: LogRecord[] = [];
  const claimed = claimedStep({ ...lease, ...step });
  const logger = createStepLogger((r) => logs.push(r), {
    taskId: claimed.taskId,
    stepId: claimed.stepId,
    stepName: claimed.stepName,
    correlationId: claimed.correlationId,
    handler: claimed.handler,
  });
  const options = knownHandlers === undefined ? { signal: new AbortController().signal, logger } : { signal: new AbortController().signal, logger, knownHandlers };
  return { report: await executeStep(handler, claimed, options), logs };
}

const returning = (value: unknown): HandlerDefinition => defineHandler('shop.charge', () => value);
const throwing = (value: unknown): HandlerDefinition =>
  defineHandler('shop.charge', () => {
    throw value;
  });

describe('executeStep: results', () => {
  it('reports a returned value as success, quoting the lease', async () => {
    const { report } = await run(defineHandler('shop.charge', async () => ({ charged: 42 })));
    expect(report).toEqual({ ...lease, outcome: 'success', result: { charged: 42 } });
  });

  it('reports undefined as a null result', async () => {
    const { report } = await run(returning(undefined));
    expect(report).toEqual({ ...lease, outcome: 'success', result: null });
  });

  it('returns the cleaned JSON value (Date to string, undefined properties dropped)', async () => {
    const { report } = await run(returning({ at: new Date('2025-01-01T00:00:00Z'), gone: undefined }));
    expect(report.result).toEqual({ at: '2025-01-01T00:00:00.000Z' });
  });

  it('hands the handler the context of its step', async () => {
    let seen: StepContext | undefined;
    await run(
      defineHandler('shop.charge', (ctx) => {
        seen = ctx;
      }),
    );
    expect(seen).toMatchObject({
      taskId: 't-1',
      stepId: 's-1',
      stepName: 'charge',
      handlerName: 'shop.charge',
      namespace: 'shop',
      taskName: 'order',
      taskVersion: '1.0.0',
      correlationId: 'corr-1',
      context: { orderId: 7 },
      inputs: { currency: 'EUR' },
      dependencyResults: { validate: { total: 42 } },
      attempt: 2,
      maxAttempts: 3,
      isLastAttempt: false,
      timeoutMs: 30_000,
      successors: ['ship', 'notify'],
    });
  });

  it.each([
    ['BigInt', { items: [1, 2, 3, 4n] }, 'result.items[3]: BigInt is not JSON'],
    ['a Map', new Map(), 'result: a Map is not JSON'],
    ['a circular object', (() => { const o: Record<string, unknown> = {}; o['self'] = o; return o; })(), 'result.self: circular reference to result'],
    ['NaN', Number.NaN, 'result: NaN is not JSON'],
    ['a function', () => 1, 'result: a function is not JSON'],
  ])('rejects a result holding %s as a permanent ResultNotSerializable failure', async (_what, value, message) => {
    const { report } = await run(returning(value));
    expect(report.outcome).toBe('permanent_failure');
    expect(report.error).toMatchObject({ kind: 'ResultNotSerializable' });
    expect(String(report.error?.['message'])).toContain(message);
    expect(report.result).toBeUndefined();
  });
});

describe('executeStep: failures', () => {
  it('maps RetryableError to retryable_failure with retryAfterMs and details', async () => {
    const { report } = await run(throwing(new RetryableError('gateway busy', { retryAfterMs: 1500, details: { gateway: 'acme' } })));
    expect(report).toMatchObject({
      ...lease,
      outcome: 'retryable_failure',
      retryAfterMs: 1500,
      error: { kind: 'RetryableError', message: 'gateway busy', details: { gateway: 'acme' } },
    });
    expect(String(report.error?.['stack'])).toContain('gateway busy');
  });

  it('maps PermanentError to permanent_failure', async () => {
    const { report } = await run(throwing(new PermanentError('card declined', { details: { code: 'do_not_honor' } })));
    expect(report).toMatchObject({
      outcome: 'permanent_failure',
      error: { kind: 'PermanentError', message: 'card declined', details: { code: 'do_not_honor' } },
    });
    expect(report.retryAfterMs).toBeUndefined();
  });

  it('maps any other Error to retryable_failure named by the error, with its code and cause', async () => {
    const error = Object.assign(new TypeError('x is undefined', { cause: new Error('root cause') }), { code: 'E_X' });
    const { report } = await run(throwing(error));
    expect(report).toMatchObject({
      outcome: 'retryable_failure',
      error: { kind: 'TypeError', message: 'x is undefined', code: 'E_X', cause: { kind: 'Error', message: 'root cause' } },
    });
  });

  it('keeps at most 10 lines of stack', async () => {
    const error = new Error('deep');
    error.stack = ['Error: deep', ...Array.from({ length: 30 }, (_, i) => `    at f${i} (file.ts:${i}:1)`)].join('\n');
    const { report } = await run(throwing(error));
    expect(String(report.error?.['stack']).split('\n')).toHaveLength(10);
  });

  it('catches a synchronous throw as well as a rejection', async () => {
    const sync = await run(throwing(new Error('sync')));
    const async = await run(defineHandler('shop.charge', async () => Promise.reject(new Error('async'))));
    expect([sync.report.error?.['message'], async.report.error?.['message']]).toEqual(['sync', 'async']);
  });

  it.each([
    ['a string', 'boom', /threw a string: "boom" instead of an Error/],
    ['undefined', undefined, /threw undefined instead of an Error/],
    ['null', null, /threw null instead of an Error/],
    ['an object', { code: 42 }, /threw an object: \{"code":42\} instead of an Error/],
    ['a number', 7, /threw a number: 7/],
  ])('reports a thrown non-Error (%s) as retryable NonErrorThrown', async (_what, thrown, message) => {
    const { report } = await run(throwing(thrown));
    expect(report.outcome).toBe('retryable_failure');
    expect(report.error?.['kind']).toBe('NonErrorThrown');
    expect(String(report.error?.['message'])).toMatch(message);
  });

  it('keeps details that are not JSON from breaking the report', async () => {
    const { report } = await run(throwing(new PermanentError('bad', { details: { n: 1n } as never })));
    expect(report.error?.['details']).toEqual({ notJson: 'details.n: BigInt is not JSON (convert it to a string or a number)' });
  });

  it('redacts passwords from error messages', async () => {
    const { report } = await run(throwing(new Error('cannot reach postgres://app:hunter2@db:5432/shop')));
    expect(report.error?.['message']).toBe('cannot reach postgres://app:[REDACTED]@db:5432/shop');
    expect(JSON.stringify(report)).not.toContain('hunter2');
  });

  it('produces an error document that is plain JSON', async () => {
    const { report } = await run(throwing(new RetryableError('x', { cause: { weird: 1n } })));
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('rejects bad retryAfterMs when the error is made', () => {
    expect(() => new RetryableError('x', { retryAfterMs: -1 })).toThrow(/retryAfterMs must be a number of milliseconds from 0 to 86400000, got -1/);
    expect(() => new RetryableError('x', { retryAfterMs: Number.NaN })).toThrow(RangeError);
    expect(new RetryableError('x', { retryAfterMs: 10.6 }).retryAfterMs).toBe(11);
  });
});

describe('executeStep: unknown handler', () => {
  it('is a permanent failure naming the handler and the registered ones', async () => {
    const { report } = await run(undefined, {}, ['shop.ship', 'shop.bill']);
    expect(report).toEqual({
      ...lease,
      outcome: 'permanent_failure',
      error: {
        kind: 'UnknownHandler',
        message: 'no handler named "shop.charge" is registered on this worker; registered: shop.bill, shop.ship',
      },
    });
  });

  it('says so when nothing is registered, and omits the list when not given', async () => {
    expect((await run(undefined, {}, [])).report.error?.['message']).toMatch(/; no handlers are registered$/);
    expect((await run(undefined)).report.error?.['message']).toBe('no handler named "shop.charge" is registered on this worker');
  });
});

describe('executeStep: decisions', () => {
  const decision = { stepType: 'decision' as const, successors: ['approve', 'review'] };

  it('reports decide(...) as success with the activated successors', async () => {
    const { report } = await run(returning(decide(['review'], { score: 12 })), decision);
    expect(report).toEqual({ ...lease, outcome: 'success', result: { score: 12 }, activate: ['review'] });
  });

  it('accepts an empty choice (every successor skipped) with a null result', async () => {
    const { report } = await run(returning(decide([])), decision);
    expect(report).toEqual({ ...lease, outcome: 'success', result: null, activate: [] });
  });

  it('rejects a successor that does not exist, naming the real ones', async () => {
    const { report } = await run(returning(decide(['aprove'])), decision);
    expect(report.outcome).toBe('permanent_failure');
    expect(report.error).toEqual({
      kind: 'InvalidDecision',
      message: 'decision step "charge" chose "aprove", which is not among its successors: approve, review',
    });
  });

  it('rejects decide(...) from a step that is not a decision step', async () => {
    const { report } = await run(returning(decide(['ship'])));
    expect(report.outcome).toBe('permanent_failure');
    expect(report.error?.['message']).toMatch(/step "charge" returned decide\(\.\.\.\) but is a standard step; declare it with type: decision/);
  });

  it('rejects a decision step that returns something else', async () => {
    const { report } = await run(returning({ activate: ['approve'] }), decision);
    expect(report.outcome).toBe('permanent_failure');
    expect(report.error?.['message']).toMatch(/decision step "charge" must return decide\(\[\.\.\.successors\], result\); its handler returned an object/);
  });

  it('does not mistake a plain object shaped like a decision for one', async () => {
    const { report } = await run(returning({ activate: ['ship'], result: 1 }));
    expect(report).toEqual({ ...lease, outcome: 'success', result: { activate: ['ship'], result: 1 } });
  });

  it('checks the decision result is JSON', async () => {
    const { report } = await run(returning(decide(['approve'], { n: 1n } as never)), decision);
    expect(report.error).toMatchObject({ kind: 'ResultNotSerializable', message: 'result.n: BigInt is not JSON (convert it to a string or a number)' });
  });

  it('decide() refuses a list that is not of step names', () => {
    expect(() => decide('approve' as never)).toThrow(TypeError);
    expect(() => decide(['ok', 3] as never)).toThrow(/activate must be an array of step names, got \["ok", number\]/);
  });
});

describe('executeStep: fan-outs', () => {
  const batch = { stepType: 'batch' as const, successors: ['process_chunk'] };

  it('reports fanOut(items, result) as success carrying the items', async () => {
    const { report } = await run(returning(fanOut([1, { rows: [2, 3] }, 'x'], { rows: 3 })), batch);
    expect(report).toEqual({ ...lease, outcome: 'success', result: { rows: 3 }, batch: [1, { rows: [2, 3] }, 'x'] });
  });

  it('reports an empty fan-out (no instances) with a null result', async () => {
    const { report } = await run(returning(fanOut([])), batch);
    expect(report).toEqual({ ...lease, outcome: 'success', result: null, batch: [] });
  });

  it('cleans items like results (Date to string) and refuses items that are not JSON, naming the item', async () => {
    const when = new Date('2025-01-01T00:00:00Z');
    expect((await run(returning(fanOut([{ when } as never])), batch)).report.batch).toEqual([{ when: '2025-01-01T00:00:00.000Z' }]);
    const { report } = await run(returning(fanOut([1, { n: 2n } as never])), batch);
    expect(report).toMatchObject({
      outcome: 'permanent_failure',
      error: { kind: 'ResultNotSerializable', message: 'batch[1].n: BigInt is not JSON (convert it to a string or a number)' },
    });
  });

  it('fails a batch step that returns anything but a fan-out, naming its worker step', async () => {
    for (const value of [[1, 2], { items: [1, 2] }, undefined]) {
      const { report } = await run(returning(value), batch);
      expect(report.outcome).toBe('permanent_failure');
      expect(report.error?.['kind']).toBe('InvalidFanOut');
      expect(report.error?.['message']).toMatch(
        /^batch step "charge" must return fanOut\(items, result\), one instance of its batch worker step \(process_chunk\) per item; its handler returned /,
      );
    }
  });

  it('fails fanOut(...) from a step that is not a batch step, and decide(...) from a batch step', async () => {
    const standard = await run(returning(fanOut([1])));
    expect(standard.report).toMatchObject({
      outcome: 'permanent_failure',
      error: { kind: 'InvalidFanOut', message: 'step "charge" returned fanOut(...) but is a standard step; declare it with type: batch in the template' },
    });
    const decided = await run(returning(decide(['process_chunk'])), batch);
    expect(decided.report.error?.['message']).toMatch(/returned decide\(\.\.\.\) but is a batch step/);
  });

  it('does not mistake a plain object shaped like a fan-out for one', async () => {
    const { report } = await run(returning({ items: [1], result: 2 }));
    expect(report).toEqual({ ...lease, outcome: 'success', result: { items: [1], result: 2 } });
  });

  it('fanOut() refuses a non-list, and more items than the limit as a permanent failure', async () => {
    expect(() => fanOut('rows' as never)).toThrow(TypeError);
    expect(() => fanOut(null as never)).toThrow(/fanOut\(items\): items must be an array \(one batch instance per item\), got null/);
    expect(() => fanOut(Array(MAX_BATCH_ITEMS).fill(0))).not.toThrow();
    const tooMany = Array(MAX_BATCH_ITEMS + 1).fill(0);
    expect(() => fanOut(tooMany)).toThrow(BatchTooLargeError);
    const { report } = await run(
      defineHandler('shop.charge', () => fanOut(tooMany)),
      batch,
    );
    expect(report).toMatchObject({
      outcome: 'permanent_failure',
      error: {
        kind: 'BatchTooLargeError',
        message: 'fanOut(items): 10001 items is more than the 10000 batch instances one batch step may create; make each item a larger chunk of the work',
        details: { size: 10_001, limit: 10_000 },
      },
    });
  });
});
