/**
 * One namespace's claim loop: claims min(claim size, free buffer slots) steps per round trip into
 * the shared step book (the claim size: claim-size.ts), claims again at once while claims come
 * back full, and otherwise waits for its wake-up: a notification (Hybrid, EventDrivenOnly), the
 * poll interval (Hybrid, PollingOnly), freed buffer space, a report that enqueued successors, or
 * the database coming back.
 */
import type pg from 'pg';
import { claimSteps } from '../../protocol/claims.ts';
import type { ResolvedCoreConfig } from './config.ts';
import type { Connectivity } from './connectivity.ts';
import { isConnectionLoss } from './failures.ts';
import { describe, type CoreLog } from './log.ts';
import { Wakeup, unlessStopped, type Stopper } from './signals.ts';
import type { CoreCounters } from './stats.ts';
import type { StepBook } from './step-book.ts';

const FIRST_ERROR_DELAY_MS = 100;
const MAX_ERROR_DELAY_MS = 5_000;

export interface ClaimLoopDeps {
  pool: pg.Pool;
  config: ResolvedCoreConfig;
  book: StepBook;
  counters: CoreCounters;
  connectivity: Connectivity;
  /** Stopped when the core starts draining. */
  stopClaiming: Stopper;
  log: CoreLog;
}

export class ClaimLoop {
  private readonly wakeup = new Wakeup();
  /** True while the loop waits because the buffer is full. */
  private waitingForSpace = false;
  /** Settles when the loop has stopped (after its last claim's steps reached the book). */
  readonly done: Promise<void>;

  constructor(
    readonly namespace: string,
    private readonly deps: ClaimLoopDeps,
  ) {
    deps.stopClaiming.onStop(() => this.wakeup.notify());
    // run() handles its own failures; this only guards against a bug killing the process.
    this.done = this.run().catch((error: unknown) => {
      deps.log.warn(`claim:${namespace}`, `claim loop of ${namespace} stopped unexpectedly: ${describe(error)}`);
    });
  }

  /** Claim now (or as soon as the current round trip ends). */
  wake(): void {
    this.wakeup.notify();
  }

  /**
   * Buffer space was freed. Only a loop stopped by a full buffer claims again; one that found its
   * queue empty keeps waiting for its notification or poll, so a busy next() in one namespace does
   * not make every other namespace's loop query an empty queue.
   */
  spaceFreed(): void {
    if (this.waitingForSpace) this.wakeup.notify();
  }

  private async run(): Promise<void> {
    const { pool, config, book, counters, connectivity, stopClaiming, log } = this.deps;
    let errorDelayMs = FIRST_ERROR_DELAY_MS;
    while (!stopClaiming.stopped) {
      if (!connectivity.isUp) {
        await unlessStopped(connectivity.whenUp(), stopClaiming);
        continue;
      }
      const want = book.reserveFull();
      if (want === 0) {
        this.waitingForSpace = true;
        await this.wakeup.wait(); // next() frees space and rings
        this.waitingForSpace = false;
        continue;
      }
      const epoch = connectivity.epoch;
      let read: number;
      let filled = 0;
      const sentAt = performance.now();
      try {
        const result = await claimSteps(pool, {
          namespace: this.namespace,
          batchSize: want,
          leaseSeconds: config.leaseSeconds,
          workerId: config.workerId,
        });
        counters.claimRoundTrips += 1;
        counters.claimed += result.claimed.length;
        for (const message of result.unclaimed) {
          if (message.outcome === 'discarded') counters.discarded += 1;
          else counters.deferred += 1;
        }
        // Even when draining started meanwhile: drain gives buffered steps back.
        // Adopted steps (leases this core already runs) take no buffer slot.
        read = result.claimed.length + result.unclaimed.length;
        book.claimReturned(read >= want);
        filled = result.claimed.length - book.accept(result.claimed, sentAt);
        errorDelayMs = FIRST_ERROR_DELAY_MS;
        log.ok(`claim:${this.namespace}`);
      } catch (error) {
        if (isConnectionLoss(error)) {
          connectivity.markLost(error, epoch);
        } else {
          log.warn(`claim:${this.namespace}`, `claiming in namespace ${this.namespace} failed: ${describe(error)}; retrying`);
          await this.wakeup.wait(errorDelayMs);
          errorDelayMs = Math.min(errorDelayMs * 2, MAX_ERROR_DELAY_MS);
        }
        continue;
      } finally {
        book.unreserve(want, filled);
      }
      if (read >= want) continue; // more may be waiting
      await this.idle();
    }
  }

  private idle(): Promise<void> {
    const { mode, pollIntervalMs } = this.deps.config;
    return mode === 'EventDrivenOnly' ? this.wakeup.wait() : this.wakeup.wait(pollIntervalMs);
  }
}
