/**
 * Fan-outs: what a batch step's handler returns to split its work into one instance of the
 * batch worker step per item. Branded like decisions (decision.ts): a result that merely looks
 * like a fan-out is stored as a result, never obeyed, and the brand survives two copies of the
 * SDK being loaded.
 */
import type { JsonValue } from '../protocol/types.ts';
import { BatchTooLargeError } from './errors.ts';

const FAN_OUT_BRAND = Symbol.for('@tasker/sdk:fan-out');

/**
 * The most items one batch step may fan out into: each becomes a step, a queue message and
 * edges, all created in the transaction that records the batch step's success. The database
 * enforces the same limit (tasker.max_batch_items(), migrations/0010_batch_fan_out.sql).
 */
export const MAX_BATCH_ITEMS = 10_000;

/** What a batch step returns: the items, one batch instance each, and the step's result. */
export interface FanOut {
  /** One instance of the batch worker step runs per item; it reads it with `ctx.batchItem()`. */
  readonly items: readonly unknown[];
  /** The batch step's result, stored like any step result (keep it small: every instance receives it). */
  readonly result: JsonValue;
}

/**
 * Batch steps: `return fanOut(chunks, { rows: 1200 })` runs the batch worker step once per chunk;
 * the steps after the worker step run when every instance completed. An empty list runs no
 * instance, and the steps after the worker step run at once.
 *
 * Items must be JSON (checked when the step is reported, like results).
 *
 * @throws TypeError when `items` is not an array
 * @throws BatchTooLargeError (a PermanentError: the step fails at once) when there are more than
 *   {@link MAX_BATCH_ITEMS} items
 */
export function fanOut(items: readonly JsonValue[], result: JsonValue = null): FanOut {
  if (!Array.isArray(items)) {
    throw new TypeError(`fanOut(items): items must be an array (one batch instance per item), got ${items === null ? 'null' : typeof items}`);
  }
  if (items.length > MAX_BATCH_ITEMS) throw new BatchTooLargeError(items.length, MAX_BATCH_ITEMS);
  const fan = { items: Object.freeze([...items]), result };
  Object.defineProperty(fan, FAN_OUT_BRAND, { value: true });
  return Object.freeze(fan);
}

/** True for values made by {@link fanOut}. */
export function isFanOut(value: unknown): value is FanOut {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FAN_OUT_BRAND] === true;
}
