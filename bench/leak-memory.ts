/**
 * Memory samples for the leak check, on Node, Bun and Deno: force a full collection where the
 * runtime allows it, let the allocators settle, then read the resident set size. RSS is the figure
 * that matters: the native bindings allocate outside the JS heap (Rust, napi, the C ABI's
 * envelopes), where heap statistics never look.
 */
import process from 'node:process';

/** How the collection was forced, recorded with the figures (a run without one is noisier). */
export type GcMethod = 'Bun.gc(true)' | 'gc()' | 'none';

/** One sample, in bytes. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
}

/** The collector this runtime exposes: Bun's always; V8's `gc` with node --expose-gc or deno --v8-flags=--expose-gc. */
export function gcMethod(): GcMethod {
  const g = globalThis as { gc?: unknown; Bun?: { gc?: unknown } };
  if (typeof g.Bun?.gc === 'function') return 'Bun.gc(true)';
  if (typeof g.gc === 'function') return 'gc()';
  return 'none';
}

function collect(method: GcMethod): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (method === 'Bun.gc(true)') g.Bun?.gc(true);
  else if (method === 'gc()') g.gc?.();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Collects twice around a pause (finalizers run between the two, freeing what they hold, e.g.
 * native buffers of collected objects), then samples.
 */
export async function settledSample(pauseMs = 500): Promise<MemorySample> {
  const method = gcMethod();
  collect(method);
  await sleep(pauseMs);
  collect(method);
  await sleep(50);
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed };
}
