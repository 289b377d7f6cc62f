/**
 * E-commerce order (templates/ecommerce_order.yaml): a linear chain, written in both handler
 * styles. Results flow down the chain through typed dependency getters.
 */
import { PermanentError, StepHandler, defineHandler, type JsonObject, type StepContext } from '@tasker/sdk';

interface OrderContext extends JsonObject {
  order_id: string;
  customer_email: string;
  items: Array<{ sku: string; price: number; quantity: number }>;
}

interface Cart extends JsonObject {
  total: number;
  lines: number;
}

interface Payment extends JsonObject {
  payment_id: string;
  amount: number;
}

/** Class style: checks the cart and totals it. */
export class ValidateCart extends StepHandler<OrderContext, Record<string, never>, Cart> {
  static override readonly handlerName = 'ecommerce.validate_cart';

  override call(ctx: StepContext<OrderContext, Record<string, never>>): Cart {
    const { items } = ctx.context;
    if (items.some((item) => item.quantity > 100)) {
      throw new PermanentError('a line asks for more than 100 units', { details: { order_id: ctx.context.order_id } });
    }
    const total = items.reduce((sum, item) => sum + item.price * item.quantity, 0);
    return { total: Math.round(total * 100) / 100, lines: items.length };
  }
}

/** Function style: charges the cart's total. */
export const processPayment = defineHandler<OrderContext, { validate_cart: Cart }, Payment>(
  'ecommerce.process_payment',
  (ctx) => {
    const cart = ctx.dependencyResult('validate_cart');
    ctx.logger.info('charging', { amount: cart.total });
    return { payment_id: `pay_${ctx.context.order_id}`, amount: cart.total };
  },
);

export const updateInventory = defineHandler<OrderContext, { process_payment: Payment }>(
  'ecommerce.update_inventory',
  (ctx) => ({
    reserved: ctx.context.items.map((item) => ({ sku: item.sku, quantity: item.quantity })),
    for_payment: ctx.dependencyResult('process_payment').payment_id,
  }),
);

export const sendConfirmation = defineHandler<OrderContext>('ecommerce.send_confirmation', async (ctx) => {
  // A real handler would call a mail API and pass ctx.signal to it.
  await new Promise((resolve) => setTimeout(resolve, 5));
  return { emailed: ctx.context.customer_email, order_id: ctx.context.order_id };
});

export const ecommerceHandlers = [ValidateCart, processPayment, updateInventory, sendConfirmation];
