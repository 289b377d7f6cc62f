/**
 * docs/handlers.md's example: handlers in both styles, typed context and dependency results, a
 * retryable failure, a decision, and the step logger. To stay self-contained it runs the steps
 * the way a worker does — claim, executeStep, report — in a plain loop; a real deployment hands
 * the same handlers to a Worker (docs/worker.md). The test suite runs it
 * (test/docs/handler-template-examples.test.ts).
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  HandlerRegistry,
  RetryableError,
  StepHandler,
  createStepLogger,
  decide,
  defineHandler,
  executeStep,
  type LogRecord,
  type StepContext,
} from '../../sdk/src/handler/index.ts';
import { claimSteps, createTask, getTaskStatus, registerTemplate, reportStep, type TaskStatus } from '../../sdk/src/protocol/index.ts';
import { loadTemplateFile } from '../../sdk/src/template/index.ts';

// The task context, as the template's input_schema describes it. (A `type`, not an `interface`:
// contexts must be JSON objects, and only type aliases satisfy that constraint.)
type Order = { order_id: string; items: Array<{ sku: string; quantity: number; price: number }> };

// Function style: a name and a function. The first type argument types ctx.context.
export const priceOrder = defineHandler<Order>('orders.price', (ctx) => {
  const total = ctx.context.items.reduce((sum, item) => sum + item.quantity * item.price, 0);
  ctx.logger.info('priced the order', { orderId: ctx.context.order_id, total });
  return { total };
});

// Class style: handlerName is the name templates use (the class name when left out).
export class FetchFxRate extends StepHandler<Order> {
  static override handlerName = 'orders.fetch_fx_rate';

  async call(ctx: StepContext<Order>) {
    // The first attempt fails the way a busy upstream does; the template allows 3 attempts.
    if (ctx.attempt === 1) throw new RetryableError('rate service busy', { retryAfterMs: 0 });
    return { currency: String(ctx.inputs['currency']), rate: 1.08 };
  }
}

// Results of this step's dependencies, by step name: the second type argument types them.
type RouteDeps = { price_order: { total: number }; fetch_fx_rate: { currency: string; rate: number } };

// A decision step returns decide([...successors to run], result); the others are skipped.
export const route = defineHandler<Order, RouteDeps>('orders.route', (ctx) => {
  const { total } = ctx.dependencyResult('price_order');
  const { rate } = ctx.dependencyResult('fetch_fx_rate');
  const converted = Math.round(total * rate * 100) / 100;
  const reviewAbove = Number(ctx.inputs['review_above']);
  return decide(converted > reviewAbove ? ['manual_review'] : ['auto_approve'], { converted });
});

export const autoApprove = defineHandler('orders.auto_approve', () => ({ approvedBy: 'rules' }));
export const manualReview = defineHandler('orders.manual_review', () => ({ approvedBy: 'reviewer' }));

// A join after a decision: only the chosen branch has a result, so read them optionally.
export const closeOrder = defineHandler('orders.close', (ctx) => {
  const approval = ctx.dependencyResults['auto_approve'] ?? ctx.dependencyResults['manual_review'];
  return { closed: true, approval: approval ?? null };
});

/** Registers the template, creates one task per order, runs every step, returns the tasks and the log. */
export async function runHandlersExample(
  databaseUrl: string,
  orders: readonly Order[],
): Promise<{ tasks: TaskStatus[]; log: LogRecord[] }> {
  const registry = new HandlerRegistry([priceOrder, FetchFxRate, route, autoApprove, manualReview, closeOrder]);
  const log: LogRecord[] = [];
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const template = await loadTemplateFile(fileURLToPath(new URL('templates/order_review.yaml', import.meta.url)));
    await registerTemplate(pool, template);
    const taskIds: string[] = [];
    for (const order of orders) {
      taskIds.push((await createTask(pool, { namespace: 'docs_orders', name: 'order_review', context: order })).taskId);
    }

    // What a worker does for each step, minus concurrency, heartbeats and shutdown.
    const statuses = async () => Promise.all(taskIds.map(async (id) => (await getTaskStatus(pool, id)) as TaskStatus));
    while ((await statuses()).some((task) => task.state === 'in_progress')) {
      const { claimed } = await claimSteps(pool, { namespace: 'docs_orders', batchSize: 10, leaseSeconds: 30 });
      for (const step of claimed) {
        const logger = createStepLogger((record) => log.push(record), {
          taskId: step.taskId,
          stepId: step.stepId,
          stepName: step.stepName,
          correlationId: step.correlationId,
          handler: step.handler,
        });
        const signal = AbortSignal.timeout(step.timeoutMs);
        await reportStep(pool, await executeStep(registry.get(step.handler), step, { signal, logger }));
      }
    }
    return { tasks: await statuses(), log };
  } finally {
    await pool.end();
  }
}
