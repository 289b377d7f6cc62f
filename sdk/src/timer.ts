/**
 * setTimeout's limit. A delay above 2^31 − 1 ms (about 24.8 days) is not honoured: Node, Bun and
 * Deno run the timer after 1 ms instead, so a long wait would become a tight loop. Waits that may
 * be longer are made of several timers, each at most this long.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` as a delay setTimeout honours: at most MAX_TIMER_MS (the caller re-arms for the rest). */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
}
