/**
 * Keeps this core's leases alive: every heartbeatMs, one tasker.extend_leases call for every
 * buffered, running and reporting step. `abort` answers go to the step book: a buffered step is
 * dropped, a running one is named by takeAborted(). Answers about a lease that changed during the
 * round trip (adopted, reported) are ignored. Beats that fail leave the leases to lapse by the
 * book's clock (StepBook.takeAborted), so a handler never runs on past its lease unknowingly.
 */
import type pg from 'pg';
import { extendLeases } from '../../protocol/leases.ts';
import type { ResolvedCoreConfig } from './config.ts';
import type { Connectivity } from './connectivity.ts';
import { isConnectionLoss } from './failures.ts';
import { describe, type CoreLog } from './log.ts';
import { sleepUnless, type Stopper } from './signals.ts';
import type { CoreCounters } from './stats.ts';
import type { StepBook } from './step-book.ts';

export interface HeartbeatDeps {
  pool: pg.Pool;
  config: ResolvedCoreConfig;
  book: StepBook;
  counters: CoreCounters;
  connectivity: Connectivity;
  /** Stopped when the core closes (not when it starts draining: in-flight leases still matter). */
  closed: Stopper;
  log: CoreLog;
}

export class Heartbeat {
  readonly done: Promise<void>;

  constructor(private readonly deps: HeartbeatDeps) {
    // run() handles its own failures; this only guards against a bug killing the process.
    this.done = this.run().catch((error: unknown) => {
      deps.log.warn('heartbeat', `heartbeat stopped unexpectedly: ${describe(error)}`);
    });
  }

  private async run(): Promise<void> {
    const { config, connectivity, closed } = this.deps;
    while (!closed.stopped) {
      await sleepUnless(config.heartbeatMs, closed);
      if (closed.stopped || !connectivity.isUp) continue;
      await this.beat();
    }
  }

  private async beat(): Promise<void> {
    const { pool, config, book, counters, connectivity, log } = this.deps;
    const sent = book.leases().map((entry) => ({ entry, attempt: entry.attempt, delivery: entry.delivery }));
    if (sent.length === 0) return;
    const epoch = connectivity.epoch;
    const sentAt = performance.now();
    let results;
    try {
      results = await extendLeases(
        pool,
        sent.map(({ entry, attempt, delivery }) => ({ stepId: entry.stepId, attempt, delivery })),
        config.leaseSeconds,
      );
    } catch (error) {
      if (isConnectionLoss(error)) connectivity.markLost(error, epoch);
      else log.warn('heartbeat', `extending leases failed: ${describe(error)}`);
      return;
    }
    log.ok('heartbeat');
    results.forEach((result, index) => {
      const lease = sent[index];
      if (lease === undefined || lease.entry.stepId !== result.stepId) return;
      const { entry } = lease;
      if (!book.isCurrent(entry) || entry.delivery !== lease.delivery) return;
      if (result.extended) {
        counters.leaseExtensions += 1;
        book.extended(entry, sentAt, result.leaseExpiresAt);
      }
      if (result.abort) book.abort(entry);
    });
  }
}
