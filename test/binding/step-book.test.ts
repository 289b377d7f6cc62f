/**
 * The pg binding's buffer room (sdk/src/binding/pg/step-book.ts): a claim loop reserves a whole
 * claim or nothing, the rule and cases of native/src/book.rs's
 * `full_reservations_wait_for_a_whole_batch_of_room`.
 */
import { describe, expect, it } from 'vitest';
import { StepBook } from '../../sdk/src/binding/pg/step-book.ts';
import type { ClaimedStep } from '../../sdk/src/protocol/types.ts';
import { claimedStep } from '../../sdk/test/handler/claimed-step.ts';

const events = { onSpace: () => {}, onSettled: () => {} };

function step(id: string): ClaimedStep {
  return claimedStep({ stepId: id });
}

const steps = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => step(`s${from + i}`));

describe('step book room', () => {
  it('reserves a whole claim or nothing', async () => {
    const book = new StepBook(20, 10, 10, events);
    expect(book.reserveFull()).toBe(10);
    book.unreserve(10, 10);
    book.accept(steps(0, 10));
    expect(book.reserveFull()).toBe(10); // 10 buffered, 10 free
    expect(book.reserveFull()).toBe(0); // no room left
    book.unreserve(10, 0);
    book.accept(steps(10, 15));
    expect(book.reserveFull()).toBe(0); // 15 buffered: 5 free is not a batch
    expect(book.reserve(10)).toBe(5); // a report's claim still takes what fits
    book.unreserve(5, 0);
    expect(await book.next(5, 0)).toHaveLength(5);
    expect(book.reserveFull()).toBe(10);
  });

  it('takes the prefetch as the whole claim when it is smaller than the batch', () => {
    const small = new StepBook(3, 10, 10, events);
    expect(small.reserveFull()).toBe(3);
    expect(small.reserveFull()).toBe(0);
    expect(new StepBook(0, 10, 10, events).reserveFull()).toBe(0);
  });
});
