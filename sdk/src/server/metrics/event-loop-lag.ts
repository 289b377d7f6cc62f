/**
 * Event-loop lag, measured the same way on Node, Bun and Deno: a timer asks to run every
 * `intervalMs` and records how late it ran. (perf_hooks.monitorEventLoopDelay would be finer,
 * but Bun and Deno do not implement it faithfully.) A loop blocked for two seconds shows as one
 * sample of about two seconds, seen when the loop turns again; the largest sample of the last
 * `windowMs` is what readiness judges, so one long block keeps a service unready for a window
 * rather than for the instant nobody could ask.
 */

export interface EventLoopLagOptions {
  /** How often the timer runs. Default 100 ms. */
  intervalMs?: number;
  /** How long a sample counts towards `maxMs()`. Default 10,000 ms. */
  windowMs?: number;
}

export class EventLoopLagMonitor {
  private readonly intervalMs: number;
  private readonly windowMs: number;
  private samples: { at: number; lagMs: number }[] = [];
  private lastMs = 0;
  private expected = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: EventLoopLagOptions = {}) {
    this.intervalMs = options.intervalMs ?? 100;
    this.windowMs = options.windowMs ?? 10_000;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.schedule();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The lag of the latest sample, in ms; or how overdue the timer is now, if that is more. */
  currentMs(): number {
    return Math.max(this.lastMs, this.overdueMs());
  }

  /** The largest lag within the window, in ms. */
  maxMs(): number {
    const since = performance.now() - this.windowMs;
    let max = this.overdueMs();
    for (const sample of this.samples) if (sample.at >= since && sample.lagMs > max) max = sample.lagMs;
    return max;
  }

  private overdueMs(): number {
    return this.timer === undefined ? 0 : Math.max(0, performance.now() - this.expected);
  }

  private schedule(): void {
    this.expected = performance.now() + this.intervalMs;
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
    unref(this.timer);
  }

  private tick(): void {
    const now = performance.now();
    this.lastMs = Math.max(0, now - this.expected);
    this.samples.push({ at: now, lagMs: this.lastMs });
    const since = now - this.windowMs;
    if (this.samples.length > 0 && (this.samples[0]?.at ?? now) < since) this.samples = this.samples.filter((sample) => sample.at >= since);
    this.schedule();
  }
}

/** A measuring timer must not keep a process alive on its own (Node and Bun; Deno has its own call). */
function unref(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer && typeof timer.unref === 'function') {
    timer.unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof timer === 'number') deno?.unrefTimer?.(timer);
}
