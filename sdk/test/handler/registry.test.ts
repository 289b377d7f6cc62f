import { describe, expect, it } from 'vitest';
import {
  DuplicateHandlerError,
  HandlerRegistry,
  InvalidHandlerError,
  InvalidHandlerNameError,
  StepHandler,
  createStepContext,
  createStepLogger,
  defineHandler,
  type StepContext,
} from '../../src/handler/index.ts';
import { claimedStep } from './claimed-step.ts';

const logger = createStepLogger(() => {}, { taskId: '', stepId: '', stepName: '', correlationId: '', handler: '' });
const ctx = (): StepContext => createStepContext(claimedStep(), { signal: new AbortController().signal, logger });

class ChargeCard extends StepHandler {
  static override handlerName = 'shop.charge';
  call(context: StepContext) {
    return { order: context.context['orderId'] };
  }
}

class ShipOrder extends StepHandler {
  call() {
    return 'shipped';
  }
}

describe('HandlerRegistry', () => {
  it('registers both styles and runs them through one shape', async () => {
    const registry = new HandlerRegistry([ChargeCard, ShipOrder, defineHandler('shop.notify', async () => 'sent')]);
    expect(registry.names()).toEqual(['ShipOrder', 'shop.charge', 'shop.notify']);
    expect(await registry.get('shop.charge')?.call(ctx())).toEqual({ order: 7 });
    expect(await registry.get('ShipOrder')?.call(ctx())).toBe('shipped');
    expect(await registry.get('shop.notify')?.call(ctx())).toBe('sent');
    expect(registry.get('nope')).toBeUndefined();
  });

  it('takes a handler instance, for handlers that need constructor arguments', async () => {
    class Lookup extends StepHandler {
      static override handlerName = 'shop.lookup';
      constructor(private readonly prices: Record<string, number>) {
        super();
      }
      call() {
        return this.prices['apple'] ?? null;
      }
    }
    const registry = new HandlerRegistry([new Lookup({ apple: 3 })]);
    expect(await registry.get('shop.lookup')?.call(ctx())).toBe(3);
  });

  it('does not let a subclass inherit its parent handlerName', () => {
    class ChargeCardV2 extends ChargeCard {}
    expect(new HandlerRegistry([ChargeCard, ChargeCardV2]).names()).toEqual(['ChargeCardV2', 'shop.charge']);
  });

  it('rejects duplicate names, naming the name', () => {
    expect(() => new HandlerRegistry([ChargeCard, defineHandler('shop.charge', () => 1)])).toThrow(DuplicateHandlerError);
    expect(() => new HandlerRegistry([ShipOrder, ShipOrder])).toThrow('two handlers are registered under the name "ShipOrder"');
  });

  it('rejects empty and impossible names', () => {
    expect(() => defineHandler('', () => 1)).toThrow(InvalidHandlerNameError);
    expect(() => defineHandler('', () => 1)).toThrow('invalid handler name "": a handler name must be a non-empty string');
    expect(() => defineHandler('shop charge', () => 1)).toThrow(/invalid handler name "shop charge": a handler name is up to 128/);
    const Anonymous = (() => class extends StepHandler { call() { return 1; } })();
    expect(() => new HandlerRegistry([Anonymous])).toThrow(InvalidHandlerNameError);
    expect(() => new HandlerRegistry([{ name: '', call: () => 1 }])).toThrow(InvalidHandlerNameError);
  });

  it('rejects things that are not handlers, saying what was given', () => {
    class NotAHandler {
      call() {
        return 1;
      }
    }
    expect(() => new HandlerRegistry([NotAHandler as never])).toThrow('cannot register NotAHandler as a handler: a class must extend StepHandler');
    expect(() => new HandlerRegistry([42 as never])).toThrow(InvalidHandlerError);
    expect(() => new HandlerRegistry([null as never])).toThrow(/cannot register null as a handler/);
  });

  it('reports a class that cannot be constructed without arguments when the registry is built', () => {
    class NeedsConfig extends StepHandler {
      readonly url: string;
      constructor(config?: { url: string }) {
        super();
        if (config === undefined) throw new Error('config is required');
        this.url = config.url;
      }
      call() {
        return this.url;
      }
    }
    expect(() => new HandlerRegistry([NeedsConfig])).toThrow(
      'handler class NeedsConfig (NeedsConfig) could not be constructed without arguments: config is required; register an instance instead',
    );
  });
});
