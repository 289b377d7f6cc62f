import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  HandlerRegistry,
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

  it('the typed getter throws UnknownDependencyError naming the step and the available names', () => {
    const ctx = createStepContext(claimedStep({ dependencyResults: { validate: 1, reserve: 2 } }), options);
    expect(() => ctx.dependencyResult('valdiate')).toThrow(UnknownDependencyError);
    expect(() => ctx.dependencyResult('valdiate')).toThrow(
      'step "charge" has no result from a dependency named "valdiate"; results are available from: validate, reserve',
    );
    expect(() => createStepContext(claimedStep({ dependencyResults: {} }), options).dependencyResult('x')).toThrow(
      /no dependency results are available/,
    );
    // An inherited property is not a dependency.
    expect(() => ctx.dependencyResult('toString')).toThrow(UnknownDependencyError);
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
