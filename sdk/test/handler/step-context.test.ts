import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  HandlerRegistry,
  NotABatchInstanceError,
  NotABatchWorkerStepError,
  StepHandler,
  UnknownDependencyError,
  createStepContext,
  createStepLogger,
  defineHandler,
  executeStep,
  type StepContext,
} from '../../src/handler/index.ts';
import type { JsonValue } from '../../src/protocol/index.ts';
import { claimedStep } from './claimed-step.ts';

const logger = createStepLogger(() => {}, { taskId: '', stepId: '', stepName: '', correlationId: '', handler: '' });
const options = { signal: new AbortController().signal, logger };

type OrderContext = { orderId: number };
type ChargeDeps = { validate: { total: number } };

describe('StepContext', () => {
  it('gives typed access to the context and to dependency results', async () => {
    const charge = defineHandler<OrderContext, ChargeDeps>('shop.charge', (ctx) => {
      expectTypeOf(ctx.context.orderId).toEqualTypeOf<number>();
      const validated = ctx.dependencyResult('validate');
      expectTypeOf(validated).toEqualTypeOf<{ total: number }>();
      return { orderId: ctx.context.orderId, charged: validated.total };
    });
    expect(await executeStep(charge, claimedStep(), options)).toMatchObject({ outcome: 'success', result: { orderId: 7, charged: 42 } });
  });

  it('types class-style handlers the same way, and the registry accepts them', async () => {
    class Charge extends StepHandler<OrderContext, ChargeDeps, { charged: number }> {
      static override handlerName = 'shop.charge';
      call(ctx: StepContext<OrderContext, ChargeDeps>) {
        return { charged: ctx.dependencyResult('validate').total };
      }
    }
    const handler = new HandlerRegistry([Charge]).get('shop.charge');
    expect(await executeStep(handler, claimedStep(), options)).toMatchObject({ result: { charged: 42 } });
  });

  it('the typed getter throws UnknownDependencyError naming the step, its dependencies and the results', () => {
    const ctx = createStepContext(
      claimedStep({ dependencyResults: { validate: 1, reserve: 2 }, dependencyNames: ['validate', 'reserve'] }),
      options,
    );
    expect(() => ctx.dependencyResult('valdiate')).toThrow(UnknownDependencyError);
    expect(() => ctx.dependencyResult('valdiate')).toThrow(
      'step "charge" has no dependency named "valdiate"; its dependencies are: validate, reserve; ' +
        'results are available from: validate, reserve; did you mean "validate"?',
    );
    expect(
      () => createStepContext(claimedStep({ dependencyResults: {}, dependencyNames: [] }), options).dependencyResult('x'),
    ).toThrow(/^step "charge" has no dependency named "x"; it has no dependencies$/);
    // An inherited property is not a dependency.
    expect(() => ctx.dependencyResult('toString')).toThrow(UnknownDependencyError);
    expect(ctx.dependencyNames).toEqual(['validate', 'reserve']);
    expect(Object.isFrozen(ctx.dependencyNames)).toBe(true);
  });

  it('a dependency without a result (skipped by a decision) is told apart from a name that is no dependency', () => {
    const ctx = createStepContext(
      claimedStep({ stepName: 'notify', dependencyResults: { approve: true }, dependencyNames: ['approve', 'review'] }),
      options,
    );
    const skipped = (() => {
      try {
        ctx.dependencyResult('review');
      } catch (error) {
        return error;
      }
      throw new Error('dependencyResult("review") returned');
    })();
    expect(skipped).toBeInstanceOf(UnknownDependencyError);
    expect(skipped).toMatchObject({ code: 'DEPENDENCY_UNKNOWN', isDependency: true, dependency: 'review' });
    expect((skipped as Error).message).toBe(
      'step "notify" has no result from its dependency "review": a decision skipped it, or it is a batch worker step ' +
        '(read its instances\' results with ctx.batchResults("review"))',
    );
    expect(() => ctx.dependencyResult('reveiw')).toThrow(expect.objectContaining({ isDependency: false }));
  });

  it('a null dependency result is a result, not a missing one', () => {
    const ctx = createStepContext(claimedStep({ dependencyResults: { validate: null } }), options);
    expect(ctx.dependencyResult('validate')).toBeNull();
  });

  it('tells the handler whether this is its last attempt', () => {
    expect(createStepContext(claimedStep({ attempt: 2, maxAttempts: 3 }), options).isLastAttempt).toBe(false);
    expect(createStepContext(claimedStep({ attempt: 3, maxAttempts: 3 }), options).isLastAttempt).toBe(true);
  });

  it('is read-only: a handler cannot change what other code sees of the step', () => {
    const step = claimedStep();
    const ctx = createStepContext(step, options);
    expect(Object.isFrozen(ctx)).toBe(true);
    expect(Object.isFrozen(ctx.dependencyResults)).toBe(true);
    expect(Object.isFrozen(ctx.successors)).toBe(true);
    expect(() => (ctx.successors as string[]).push('x')).toThrow(TypeError);
    expect(step.successors).toEqual(['ship', 'notify']);
  });

  it('has the documented types', () => {
    expectTypeOf<StepContext['dependencyResults']>().toEqualTypeOf<Readonly<Record<string, JsonValue>>>();
    expectTypeOf<StepContext<OrderContext, ChargeDeps>['dependencyResult']>().parameter(0).toEqualTypeOf<'validate'>();
  });
});

describe('StepContext: batches', () => {
  it('batchResults() returns every instance result in item order, whatever the key order', () => {
    const ctx = createStepContext(
      claimedStep({
        stepName: 'merge',
        // Keys in no useful order (jsonb sorts keys by length first; JSON.parse keeps that order).
        dependencyResults: { 'chunk[10]': 'k', split: { rows: 12 }, 'chunk[2]': 'c', 'chunk[0]': 'a', 'chunk[1]': 'b', 'other[0]': 'x' },
        dependencyNames: ['chunk', 'other'],
      }),
      options,
    );
    expect(ctx.batchResults('chunk')).toEqual(['a', 'b', 'c', 'k']);
    expect(ctx.batchResults('other')).toEqual(['x']);
    expectTypeOf(ctx.batchResults<{ rows: number }>('chunk')).toEqualTypeOf<Array<{ rows: number }>>();
  });

  it('batchResults() is empty when the batch had no items, and refuses an ordinary dependency and a misspelt name', () => {
    // After an empty fan-out the convergence step depends on the batch step in place of the instances.
    const ctx = createStepContext(
      claimedStep({ stepName: 'merge', dependencyResults: { split: { rows: 0 } }, dependencyNames: ['chunk'] }),
      options,
    );
    expect(ctx.batchResults('chunk')).toEqual([]);
    expect(() => ctx.batchResults('chunks')).toThrow(UnknownDependencyError);
    expect(() => ctx.batchResults('chunks')).toThrow(
      'step "merge" has no dependency named "chunks"; its dependencies are: chunk; results are available from: split; ' +
        'did you mean "chunk"?',
    );
    expect(() => ctx.batchResults('split')).toThrow(NotABatchWorkerStepError);
    expect(() => ctx.batchResults('split')).toThrow(
      '"split" is an ordinary dependency of step "merge", not a batch worker step: ctx.batchResults() takes the template name ' +
        'of the batch worker step whose instances ran (read "split" with ctx.dependencyResult())',
    );
  });

  it('batchItem() gives an instance its item, index and batch size', () => {
    const ctx = createStepContext(
      claimedStep({ stepName: 'chunk[3]', inputs: { factor: 2, batch_item: { rows: [1, 2] }, batch_index: 3, batch_size: 5 } }),
      options,
    );
    expect(ctx.batchItem<{ rows: number[] }>()).toEqual({ item: { rows: [1, 2] }, index: 3, size: 5, workerStepName: 'chunk' });
    expect(ctx.inputs['factor']).toBe(2);
  });

  it('batchItem() refuses a step that is not a batch instance', () => {
    expect(() => createStepContext(claimedStep(), options).batchItem()).toThrow(NotABatchInstanceError);
    // The inputs alone do not make an instance: a template may use the same keys.
    const lookalike = claimedStep({ inputs: { batch_item: 1, batch_index: 0, batch_size: 1 } });
    expect(() => createStepContext(lookalike, options).batchItem()).toThrow(/step "charge" is not a batch instance/);
  });
});
