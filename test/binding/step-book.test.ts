/**
 * The pg binding's buffer room (sdk/src/binding/pg/step-book.ts): a claim loop reserves a whole
 * claim or nothing, the rule and cases of native/src/book.rs's
 * `full_reservations_wait_for_a_whole_batch_of_room`; and leases that lapse by the book's own
 * clock (heartbeats that never answered): `leases_lapse_by_the_local_clock` there.
 */
import { describe, expect, it } from 'vitest';
import { StepBook } from '../../sdk/src/binding/pg/step-book.ts';
import type { ClaimedStep } from '../../sdk/src/protocol/types.ts';
import { claimedStep } from '../../sdk/test/handler/claimed-step.ts';

const events = { onSpace: () => {}, onSettled: () => {} };
const LEASE_MS = 30_000;

function step(id: string): ClaimedStep {
  return claimedStep({ stepId: id });
}

const steps = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => step(`s${from + i}`));

describe('step book room', () => {
  it('reserves a whole claim or nothing', async () => {
    const book = new StepBook(20, 10, 10, LEASE_MS, events);
    expect(book.reserveFull()).toBe(10);
    book.unreserve(10, 10);
    book.accept(steps(0, 10), performance.now());
    expect(book.reserveFull()).toBe(10); // 10 buffered, 10 free
    expect(book.reserveFull()).toBe(0); // no room left
    book.unreserve(10, 0);
    book.accept(steps(10, 15), performance.now());
    expect(book.reserveFull()).toBe(0); // 15 buffered: 5 free is not a batch
    expect(book.reserve(10)).toBe(5); // a report's claim still takes what fits
    book.unreserve(5, 0);
    expect(await book.next(5, 0)).toHaveLength(5);
    expect(book.reserveFull()).toBe(10);
  });

  it('takes the prefetch as the whole claim when it is smaller than the batch', () => {
    const small = new StepBook(3, 10, 10, LEASE_MS, events);
    expect(small.reserveFull()).toBe(3);
    expect(small.reserveFull()).toBe(0);
    expect(new StepBook(0, 10, 10, LEASE_MS, events).reserveFull()).toBe(0);
  });
});

describe('leases lapsing by the book\'s clock', () => {
  it('aborts a running step and drops a buffered one once the lease is past, and only then', async () => {
    const book = new StepBook(20, 10, 10, LEASE_MS, events);
    const claimSentAt = performance.now() - LEASE_MS + 150;
    book.accept([step('running'), step('buffered')], claimSentAt);
    expect((await book.next(1, 0)).map((s) => s.stepId)).toEqual(['running']);
    expect(book.takeLapsed()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(book.takeAborted(), 'a lapse is not an abort').toEqual([]);
    expect(book.takeLapsed()).toEqual(['running']);
    expect(book.takeLapsed(), 'named once').toEqual([]);
    expect(book.bufferedCount).toBe(0);
    expect(await book.next(5, 0), 'a lapsed buffered lease is never handed out').toEqual([]);
    expect(book.inFlightCount, 'in flight until the worker abandons it').toBe(1);
  });

  it('a heartbeat or a claim adopting the lease moves the deadline on', async () => {
    const book = new StepBook(20, 10, 10, LEASE_MS, events);
    const old = performance.now() - LEASE_MS + 100;
    book.accept([step('beaten'), step('adopted'), step('buffered')], old);
    expect(await book.next(2, 0)).toHaveLength(2);
    book.extended(book.get('beaten')!, performance.now(), null);
    book.extended(book.get('buffered')!, performance.now(), null);
    book.accept([claimedStep({ stepId: 'adopted', delivery: 2 })], performance.now());
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(book.takeLapsed()).toEqual([]);
    expect((await book.next(5, 0)).map((s) => s.stepId)).toEqual(['buffered']);
  });
});
