/** The tasks the demo creates: every example workflow, with contexts that take each branch. */
import type { CreateTaskInput, JsonObject } from '@tasker/sdk';

const orders: CreateTaskInput[] = ['A-1001', 'A-1002', 'A-1003'].map((orderId, i) => ({
  namespace: 'ecommerce',
  name: 'order_fulfillment',
  context: {
    order_id: orderId,
    customer_email: `customer${i + 1}@example.com`,
    items: [
      { sku: 'BOOK-42', price: 12.5, quantity: i + 1 },
      { sku: 'MUG-7', price: 8, quantity: 2 },
    ],
  },
  idempotencyKey: `demo-order-${orderId}`,
}));

const pipelines: CreateTaskInput[] = [1, 2].map((batch) => ({
  namespace: 'data_pipeline',
  name: 'sales_report',
  context: {
    records: [
      { region: 'north', product: 'tea', amount: 120 * batch },
      { region: 'south', product: 'coffee', amount: 340 },
      { region: 'north', product: 'coffee', amount: 95 },
      { region: 'east', product: 'tea', amount: 60 * batch },
    ],
  },
}));

const approvals: CreateTaskInput[] = [
  { employee: 'ada', amount: 240 },
  { employee: 'grace', amount: 4_200 },
  { employee: 'linus', amount: 25_000 },
].map((context) => ({ namespace: 'approvals', name: 'expense_approval', context }));

const flaky: CreateTaskInput[] = [1, 2].map(() => ({ namespace: 'reliability', name: 'flaky_api_call', context: {} }));

const csvLines = ['sku,quantity,price', ...Array.from({ length: 10 }, (_, i) => `SKU-${i + 1},${(i % 3) + 1},${(4.5 + i).toFixed(2)}`)];

// A fan-out into four chunks (one row does not parse and is reported as rejected), and an empty
// file, whose merge step runs at once with nothing to merge.
const importContexts: JsonObject[] = [
  { csv: [...csvLines.slice(0, 6), 'SKU-X,lots,1.00', ...csvLines.slice(6)].join('\n'), chunk_size: 3 },
  { csv: 'sku,quantity,price\n' },
];
const imports: CreateTaskInput[] = importContexts.map((context) => ({ namespace: 'batch_processing', name: 'csv_import', context }));

/** Twelve tasks over five templates. */
export const SAMPLE_TASKS: CreateTaskInput[] = [...orders, ...pipelines, ...approvals, ...flaky, ...imports];

/** A context the order template's input_schema refuses, to show the error users get. */
export const INVALID_ORDER: CreateTaskInput = {
  namespace: 'ecommerce',
  name: 'order_fulfillment',
  context: { order_id: 'A-bad', customer_email: 'not-an-email', items: [] },
};
