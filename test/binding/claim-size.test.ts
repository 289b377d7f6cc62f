/**
 * The pg binding's claim size (sdk/src/binding/pg/claim-size.ts), the same rule as the native
 * core's native/src/claim_size.rs and its unit tests: grow on a full claim after starving, shrink
 * when a step waited in the buffer too long, stay within batchSize..maxBatchSize.
 */
import { describe, expect, it } from 'vitest';
import { ClaimSize, MAX_BUFFER_WAIT_MS } from '../../sdk/src/binding/pg/claim-size.ts';

describe('claim size', () => {
  it('grows only on a full claim after starving, up to the ceiling', () => {
    const size = new ClaimSize(10, 50);
    size.claimReturned(true);
    expect(size.current).toBe(10);
    size.starved();
    size.claimReturned(false);
    expect(size.current).toBe(10);
    size.claimReturned(true);
    expect(size.current).toBe(10);
    for (const expected of [20, 40, 50]) {
      size.starved();
      size.claimReturned(true);
      expect(size.current).toBe(expected);
    }
  });

  it('shrinks when a step waited too long, never below the floor', () => {
    const size = new ClaimSize(10, 80);
    for (let i = 0; i < 3; i += 1) {
      size.starved();
      size.claimReturned(true);
    }
    expect(size.current).toBe(80);
    size.waited(MAX_BUFFER_WAIT_MS);
    expect(size.current).toBe(80);
    size.waited(MAX_BUFFER_WAIT_MS + 1);
    expect(size.current).toBe(40);
    for (let i = 0; i < 3; i += 1) size.waited(1_000);
    expect(size.current).toBe(10);
  });

  it('keeps one size when the floor is the ceiling', () => {
    const size = new ClaimSize(1, 1);
    size.starved();
    size.claimReturned(true);
    expect(size.current).toBe(1);
    expect(new ClaimSize(30, 10).current).toBe(30);
  });
});
