/**
 * Handlers of the batch fan-out scenario: `cf.split` (a batch step) fans out into one instance
 * of the worker step per item, `cf.square` works on one item, and `cf.merge` (the convergence
 * step) combines every instance's result in item order.
 */
import { PermanentError, defineHandler, fanOut, type HandlerDefinition, type JsonValue } from '@tasker/sdk';

type Item = { n: number; word: string };
type Squared = { index: number; square: number; word: string };

/** `cf.split`: `context.count` items `{ n, word }`, one batch instance each. */
export const split: HandlerDefinition = defineHandler('cf.split', (ctx) => {
  const count = ctx.context['count'];
  if (typeof count !== 'number') throw new PermanentError('the task context has no numeric count');
  const items: JsonValue[] = Array.from({ length: count }, (_, n) => ({ n, word: `item-${n}-ü🙂` }));
  return fanOut(items, { count });
});

/** `cf.square`: squares its item's number; the word comes back upper-cased. */
export const square: HandlerDefinition = defineHandler('cf.square', (ctx) => {
  const { item, index, size } = ctx.batchItem<Item>();
  return { index, size, square: item.n * item.n, word: item.word.toUpperCase() };
});

/** `cf.merge`: every instance's result, in item order, and what the batch step said. */
export const merge: HandlerDefinition = defineHandler('cf.merge', (ctx) => {
  const results = ctx.batchResults<Squared>('square');
  const split = ctx.dependencyResult('split');
  return {
    split,
    instances: results.length,
    sumOfSquares: results.reduce((sum, r) => sum + r.square, 0),
    inOrder: results.every((r, i) => r.index === i),
    words: results.map((r) => r.word),
  };
});
