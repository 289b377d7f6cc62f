/**
 * The sample workflows of the demo: their templates and the handlers that run their steps.
 * Each shape exercises part of the protocol: a linear chain, a diamond with a join, and a step
 * that fails twice before succeeding (retries with PGMQ's delayed send).
 */
import type { JsonValue, TaskTemplate } from '@tasker/sdk';

/** What a sample handler gets: the task context, and the results of its dependencies. */
export interface SampleInput {
  context: Record<string, JsonValue>;
  dependencies: Record<string, JsonValue>;
  attempt: number;
}

/** A sample handler: returns the step's result, or throws to fail the attempt. */
export type SampleHandler = (input: SampleInput) => JsonValue;

export const NAMESPACE = 'demo';

export const templates: TaskTemplate[] = [
  {
    namespace: NAMESPACE,
    name: 'order_fulfillment',
    version: '1.0.0',
    description: 'Linear: validate, charge, ship, notify',
    steps: [
      { name: 'validate_cart', handler: 'demo.validate_cart' },
      { name: 'charge_payment', handler: 'demo.charge_payment', dependencies: ['validate_cart'] },
      { name: 'ship_order', handler: 'demo.ship_order', dependencies: ['charge_payment'] },
      { name: 'notify_customer', handler: 'demo.notify_customer', dependencies: ['ship_order'] },
    ],
  },
  {
    namespace: NAMESPACE,
    name: 'data_pipeline',
    version: '1.0.0',
    description: 'Diamond: extract, two transforms in parallel, then a join',
    steps: [
      { name: 'extract', handler: 'demo.extract' },
      { name: 'sum', handler: 'demo.sum', dependencies: ['extract'] },
      { name: 'max', handler: 'demo.max', dependencies: ['extract'] },
      { name: 'report', handler: 'demo.report', dependencies: ['sum', 'max'] },
    ],
  },
  {
    namespace: NAMESPACE,
    name: 'flaky_call',
    version: '1.0.0',
    description: 'A step that succeeds on its third attempt',
    steps: [{ name: 'call_api', handler: 'demo.flaky', retry: { max_attempts: 5, backoff_ms: 100, max_backoff_ms: 400 } }],
  },
];

function numbers(value: JsonValue | undefined): number[] {
  return Array.isArray(value) ? value.filter((v): v is number => typeof v === 'number') : [];
}

export const handlers: Record<string, SampleHandler> = {
  'demo.validate_cart': ({ context }) => ({ items: numbers(context['items']).length }),
  'demo.charge_payment': ({ context }) => ({ charged: numbers(context['items']).reduce((a, b) => a + b, 0) }),
  'demo.ship_order': () => ({ tracking: 'TRK-1001' }),
  'demo.notify_customer': ({ dependencies }) => ({ emailed: true, about: dependencies['ship_order'] ?? null }),
  'demo.extract': ({ context }) => numbers(context['values']),
  'demo.sum': ({ dependencies }) => numbers(dependencies['extract']).reduce((a, b) => a + b, 0),
  'demo.max': ({ dependencies }) => Math.max(...numbers(dependencies['extract'])),
  'demo.report': ({ dependencies }) => ({ sum: dependencies['sum'] ?? null, max: dependencies['max'] ?? null }),
  'demo.flaky': ({ attempt }) => {
    if (attempt < 3) throw new Error(`upstream unavailable (attempt ${attempt})`);
    return { answer: 42, attempt };
  },
};
