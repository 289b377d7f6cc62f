/**
 * The percentile every benchmark prints: nearest rank (the smallest sample with at least the
 * fraction `p` of all samples at or below it; p = 0 gives the minimum), rounded to 0.01. One
 * definition, so figures from latency.ts, sql-profile.ts, migration-ab.ts and call-costs.ts can be
 * set side by side. Runs unchanged on Node, Bun and Deno.
 */

/** The `p`-th fraction (0.5 for the median, 1 for the maximum) of `samples`, by nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return Math.round((sorted[index] ?? Number.NaN) * 100) / 100;
}

/** The median of `samples`, by nearest rank (the lower middle of an even count). */
export function p50(samples: readonly number[]): number {
  return percentile(samples, 0.5);
}
