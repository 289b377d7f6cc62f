/**
 * `next()` of the native adapters (napi.ts, ffi/core.ts). Buffered steps are taken with a
 * synchronous call on the JS thread. When there are none, every caller waits on one native
 * "steps are buffered" wait shared by all of them, then takes its steps on the JS thread again.
 *
 * Why not a native `next()` per caller: each of those would take its steps on the core's threads
 * and resolve on its own, so the handler slots of one process woke one by one, in separate turns,
 * and their reports reached the core's flusher one by one: the first opened a round trip alone,
 * the rest waited for it to end (measured: 5 reports per round trip with 10 slots, against 10 for
 * the `pg` binding, whose waiters all wake in one turn). With one shared wait, all waiters wake in
 * one turn, take their steps in order, and report together. No step is taken for a caller that
 * stopped waiting, so none can be left in flight with nobody to run it.
 */
import type { ClaimedStep } from '../protocol/types.ts';
import { MAX_TIMER_MS } from '../timer.ts';

export class StepWait {
  /** The native wait under way, shared by every waiting caller. */
  #shared: Promise<void> | undefined;

  /**
   * `waitNative(timeoutMs)` resolves when steps are buffered, the timeout passes or the core is
   * draining (what it found does not matter: callers look for themselves).
   */
  constructor(private readonly waitNative: (timeoutMs: number) => Promise<void>) {}

  /**
   * Up to what `take()` hands out, as soon as it hands out something; `[]` once `timeoutMs` has
   * passed or `stopped()` says the core is draining.
   */
  async next(take: () => ClaimedStep[], timeoutMs: number, stopped: () => boolean): Promise<ClaimedStep[]> {
    const now = take();
    if (now.length > 0 || timeoutMs <= 0) return now;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0 || stopped()) return [];
      await this.#until(Math.min(left, MAX_TIMER_MS));
      if (stopped()) return [];
      const steps = take();
      if (steps.length > 0) return steps;
    }
  }

  /** Until the shared wait ends (starting one when none runs) or `ms` passes. */
  #until(ms: number): Promise<void> {
    const shared = (this.#shared ??= this.waitNative(Math.ceil(ms)).finally(() => {
      this.#shared = undefined;
    }));
    return new Promise<void>((resolve, reject) => {
      // A caller whose timeout is shorter than the shared wait's stops at its own.
      const timer = setTimeout(resolve, ms);
      shared.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}
