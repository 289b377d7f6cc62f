/**
 * When the orchestrator sweeps, as orchestration.deployment_mode says:
 *
 * - PollingOnly: a sweep pass every interval, nothing else (no LISTEN connection).
 * - EventDrivenOnly: no sweep on a timer. The orchestrator reads when its sweeps next have work
 *   (due-times.ts), sleeps until then, sweeps only when something is due, and is woken early by
 *   the notifications the SQL already sends (wake-listener.ts), which may announce a sooner
 *   deadline or lease.
 * - Hybrid: EventDrivenOnly, plus a sweep pass at least every interval as a safety net.
 *
 * Cycles never overlap: a notification during one asks for another after it, and notifications
 * arriving in a burst are answered with at most one read per READ_GAP_MS.
 */
import type { EventMode } from '../config/types.ts';
import type { DueTimes } from './due-times.ts';
import { nextWakeDelay } from './wake-plan.ts';
import { WakeListener } from './wake-listener.ts';

/** A busy system notifies for every enqueue; one read per this long answers them all. */
const READ_GAP_MS = 50;
/** After a failed pass, try again this soon, doubling up to the maximum (the interval caps it in Hybrid). */
const ERROR_RETRY_MIN_MS = 1_000;
const ERROR_RETRY_MAX_MS = 30_000;

export interface SweepSchedulerOptions {
  mode: EventMode;
  /** PollingOnly's interval; Hybrid's safety-net interval. */
  intervalMs: number;
  databaseUrl: string;
  /** One sweep pass (both sweeps). */
  sweep(): Promise<unknown>;
  readDue(): Promise<DueTimes>;
  /** A pass (a read or a sweep) failed; it is tried again. */
  onError(error: unknown): void;
  /** The LISTEN connection broke or could not be opened; it is reopened on its own. */
  onListenerLost(error: unknown): void;
}

export class SweepScheduler {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** performance.now() at which the armed timer fires; Infinity when none is armed. */
  private wakeAt = Number.POSITIVE_INFINITY;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private nextPollAt = 0;
  private lastReadAt = Number.NEGATIVE_INFINITY;
  private errorDelayMs = ERROR_RETRY_MIN_MS;
  private readonly listener: WakeListener | undefined;

  constructor(private readonly options: SweepSchedulerOptions) {
    if (options.mode !== 'PollingOnly') {
      this.listener = new WakeListener({
        databaseUrl: options.databaseUrl,
        onWake: () => this.notified(),
        onLost: (error) => options.onListenerLost(error),
      });
    }
  }

  /** Opens the LISTEN connection (event modes), then runs the first pass at once. */
  async start(): Promise<void> {
    // Listening first: a notification sent between the first read and the LISTEN would be lost.
    await this.listener?.start();
    this.arm(0);
  }

  /** Stops waking, closes the LISTEN connection and waits for the pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.listener?.close();
    await this.running;
  }

  private notified(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.arm(Math.max(0, this.lastReadAt + READ_GAP_MS - performance.now()), true);
  }

  /** Arms the timer for `delayMs` from now; with onlyIfSooner, keeps an earlier one. */
  private arm(delayMs: number, onlyIfSooner = false): void {
    if (this.stopped) return;
    const at = performance.now() + delayMs;
    if (onlyIfSooner && at >= this.wakeAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.runCycle();
    }, delayMs);
  }

  private runCycle(): void {
    this.again = false;
    this.running = this.cycle()
      .then(
        (delayMs) => {
          this.errorDelayMs = ERROR_RETRY_MIN_MS;
          return delayMs;
        },
        (error: unknown) => {
          this.options.onError(error);
          return this.retryDelay();
        },
      )
      .then((delayMs) => {
        this.running = undefined;
        this.arm(delayMs);
        if (this.again) this.notified();
      });
  }

  /** One pass; resolves with how long to sleep before the next. */
  private async cycle(): Promise<number> {
    const { mode, intervalMs } = this.options;
    if (mode === 'PollingOnly' || this.listener === undefined) {
      await this.options.sweep();
      return intervalMs;
    }
    this.lastReadAt = performance.now();
    let due = await this.options.readDue();
    if (await this.listener.listenTo(due.namespaces)) due = await this.options.readDue();
    const pollDue = mode === 'Hybrid' && performance.now() >= this.nextPollAt;
    if (due.sweepable || pollDue) {
      await this.options.sweep();
      if (mode === 'Hybrid') this.nextPollAt = performance.now() + intervalMs;
      due = await this.options.readDue();
    }
    return nextWakeDelay(due, mode === 'Hybrid' ? Math.max(0, this.nextPollAt - performance.now()) : undefined);
  }

  private retryDelay(): number {
    const { mode, intervalMs } = this.options;
    if (mode === 'PollingOnly') return intervalMs;
    const delay = this.errorDelayMs;
    this.errorDelayMs = Math.min(ERROR_RETRY_MAX_MS, this.errorDelayMs * 2);
    return mode === 'Hybrid' ? Math.min(delay, intervalMs) : delay;
  }
}
