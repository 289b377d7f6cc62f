/**
 * Commits reports in batches: up to reportBatchMax queued reports per tasker.report_and_claim
 * round trip, which also claims up to one step per report (as buffer room allows) from the
 * namespaces where the reports enqueued successors, so a finished step's ready successor needs
 * no NOTIFY and no second round trip. With reportLingerMs = 0 a flush starts as soon as none is
 * running (reports submitted in the same turn share it), and reports arriving during a flush go
 * together in the next one; with a linger, the first queued report waits up to that long for
 * company (or a full batch).
 *
 * A round trip that fails on a lost connection goes back to the front of the queue and is sent
 * again once the database is back, as often as it takes: the protocol makes a resent report safe
 * (it commits once; a resend of a committed report is rejected with the step's state). A batch
 * refused for a deterministic reason (a protocol error) is resent one report at a time, so only
 * the faulty report fails. The report quotes the lease this core holds now, so a lease adopted
 * after the handler started is honoured.
 */
import type pg from 'pg';
import { reportAndClaim } from '../../protocol/reports.ts';
import type { ClaimedStep, ReportResult, StepReport } from '../../protocol/types.ts';
import { WorkerCoreClosedError } from '../errors.ts';
import { checkReportArgument } from '../wire.ts';
import type { ResolvedCoreConfig } from './config.ts';
import type { Connectivity } from './connectivity.ts';
import { isConnectionLoss, isTransientServerError } from './failures.ts';
import { describe, type CoreLog } from './log.ts';
import { sleepUnless, type Stopper } from './signals.ts';
import type { CoreCounters } from './stats.ts';
import type { HeldStep, StepBook } from './step-book.ts';

const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 5_000;

interface PendingReport {
  report: StepReport;
  /** The lease this core holds for the step, when it holds one. */
  held: HeldStep | undefined;
  resolve(result: ReportResult): void;
  reject(error: unknown): void;
  /** The delivery quoted by the last send. */
  sentDelivery: number;
  /** Send alone (its batch was refused; find out which report is at fault). */
  alone: boolean;
  /** Answered already (close() answers a round trip still under way). */
  settled?: boolean;
}

export interface ReportFlusherDeps {
  pool: pg.Pool;
  config: ResolvedCoreConfig;
  book: StepBook;
  counters: CoreCounters;
  connectivity: Connectivity;
  closed: Stopper;
  /** Claiming has stopped (draining): reports then claim nothing. */
  stopClaiming: Stopper;
  log: CoreLog;
  /** A committed report enqueued successors in `namespace` (undefined: unknown namespace). */
  onEnqueued(namespace: string | undefined): void;
}

export class ReportFlusher {
  private queue: PendingReport[] = [];
  private flushing = false;
  private scheduled = false;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  /** The batch of the round trip under way. */
  private sending: PendingReport[] = [];
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: ReportFlusherDeps) {
    // A drain sends what lingers at once, as the native reporter does: the linger is there to
    // gather reports, and none but these will come while the drain waits for them.
    deps.stopClaiming.onStop(() => {
      if (this.lingerTimer === undefined) return;
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      this.startFlush();
    });
  }

  /** True when nothing is queued or being sent. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.flushing;
  }

  /** Queues a report; resolves with what the database did once it is committed. */
  submit(report: StepReport): Promise<ReportResult> {
    try {
      checkReportArgument(report);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (this.deps.closed.stopped) return Promise.reject(new WorkerCoreClosedError());
    const held = this.deps.book.startReport(report.stepId, report.attempt);
    return new Promise((resolve, reject) => {
      this.queue.push({ report, held, resolve, reject, sentDelivery: report.delivery, alone: false });
      this.schedule();
    });
  }

  /**
   * Refuses every report not committed yet (the core closed). A round trip under way settles its
   * reports when it ends; if it failed, they are refused then.
   */
  close(): void {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    const left = this.queue;
    this.queue = [];
    for (const pending of left) this.settle(pending, undefined, new WorkerCoreClosedError());
    // A round trip still under way (a database that stopped answering holds it until the pool's
    // query timeout, a minute or more) is answered now, so nobody waits on it past the drain.
    const sending = this.sending;
    this.sending = [];
    for (const pending of sending) {
      this.settle(
        pending,
        undefined,
        new WorkerCoreClosedError('The worker core closed while this report was being committed; it may have been committed'),
      );
    }
    this.notifyIdle();
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    const { reportLingerMs, reportBatchMax } = this.deps.config;
    if (reportLingerMs > 0 && this.queue.length < reportBatchMax && !this.deps.stopClaiming.stopped) {
      this.lingerTimer ??= setTimeout(() => {
        this.lingerTimer = undefined;
        this.startFlush();
      }, reportLingerMs);
      return;
    }
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    // A microtask, not a timer: reports submitted in the same turn share the round trip, and a
    // lone report is not held back.
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.startFlush();
    });
  }

  private startFlush(): void {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = true;
    void this.flushLoop()
      .catch((error: unknown) => this.deps.log.warn('report', `report flusher failed unexpectedly: ${describe(error)}`))
      .finally(() => {
        this.flushing = false;
        if (this.deps.closed.stopped) this.close();
        else if (this.queue.length > 0) this.schedule();
        else this.notifyIdle();
      });
  }

  private async flushLoop(): Promise<void> {
    const { pool, config, book, counters, connectivity, closed, log } = this.deps;
    let retryDelayMs = FIRST_RETRY_DELAY_MS;
    while (this.queue.length > 0 && !closed.stopped) {
      if (!connectivity.isUp) {
        await connectivity.whenUp();
        continue;
      }
      const batch = this.takeBatch();
      this.sending = batch;
      const reports = batch.map((pending) => this.quoteCurrentLease(pending));
      const epoch = connectivity.epoch;
      const reserved = this.deps.stopClaiming.stopped ? 0 : book.reserve(Math.min(batch.length, book.batch));
      let results: ReportResult[];
      let claimed: ClaimedStep[];
      let read: number;
      const sentAt = performance.now();
      try {
        const done = await reportAndClaim(pool, reports, {
          workerId: config.workerId,
          claimMax: reserved,
          leaseSeconds: config.leaseSeconds,
        });
        results = done.results;
        claimed = done.claim.claimed;
        read = claimed.length + done.claim.unclaimed.length;
        counters.claimed += claimed.length;
        for (const message of done.claim.unclaimed) {
          if (message.outcome === 'discarded') counters.discarded += 1;
          else counters.deferred += 1;
        }
      } catch (error) {
        this.sending = [];
        book.unreserve(reserved, 0);
        this.queue.unshift(...batch.filter((pending) => pending.settled !== true));
        if (isConnectionLoss(error)) {
          counters.reportRetries += 1;
          connectivity.markLost(error, epoch);
        } else if (isTransientServerError(error)) {
          counters.reportRetries += 1;
          log.warn('report', `committing reports failed (${describe(error)}); retrying`);
          await sleepUnless(retryDelayMs, closed);
          retryDelayMs = Math.min(retryDelayMs * 2, MAX_RETRY_DELAY_MS);
        } else if (batch.length > 1) {
          counters.reportRetries += 1;
          for (const pending of batch) pending.alone = true;
        } else {
          const only = batch[0]!;
          const at = this.queue.indexOf(only);
          if (at >= 0) this.queue.splice(at, 1);
          this.settle(only, undefined, error);
        }
        continue;
      }
      this.sending = [];
      counters.reportRoundTrips += 1;
      retryDelayMs = FIRST_RETRY_DELAY_MS;
      log.ok('report');
      const again: PendingReport[] = [];
      // No claim loop needs waking for the successors when the claim took as many messages as
      // the reports added, or every ready one there was (it asked for more than it read).
      const enqueued = results.reduce((sum, result) => sum + (result.accepted ? result.enqueued : 0), 0);
      const drained = read < reserved || claimed.length >= enqueued;
      batch.forEach((pending, index) => {
        const result = results[index]!;
        if (pending.settled === true) return;
        if (this.leaseMovedOn(pending, result)) again.push(pending);
        else this.settle(pending, result, undefined, drained);
      });
      this.queue.unshift(...again);
      // After the reports are settled: a step claimed again here (a retry due at once) is new
      // work, not the attempt that just ended. Adopted steps take no buffer slot.
      const filled = claimed.length - book.accept(claimed, sentAt);
      book.unreserve(reserved, filled);
    }
  }

  /** Up to reportBatchMax reports, one per step (a second report of a step waits for the next batch). */
  private takeBatch(): PendingReport[] {
    const first = this.queue[0]!;
    if (first.alone) return this.queue.splice(0, 1);
    const max = this.deps.config.reportBatchMax;
    const batch: PendingReport[] = [];
    const steps = new Set<string>();
    const rest: PendingReport[] = [];
    for (const pending of this.queue) {
      if (batch.length < max && !pending.alone && !steps.has(pending.report.stepId)) {
        batch.push(pending);
        steps.add(pending.report.stepId);
      } else {
        rest.push(pending);
      }
    }
    this.queue = rest;
    return batch;
  }

  /** The report with the delivery of the lease held now (it changes when a lease is adopted). */
  private quoteCurrentLease(pending: PendingReport): StepReport {
    const { held, report } = pending;
    const delivery = held !== undefined && held.attempt === report.attempt ? held.delivery : report.delivery;
    pending.sentDelivery = delivery;
    return delivery === report.delivery ? report : { ...report, delivery };
  }

  /** Rejected for a lost lease that this core adopted meanwhile: send again with the new delivery. */
  private leaseMovedOn(pending: PendingReport, result: ReportResult): boolean {
    const { held } = pending;
    return (
      !result.accepted &&
      held !== undefined &&
      this.deps.book.isCurrent(held) &&
      held.delivery > pending.sentDelivery &&
      (result.reason ?? '').startsWith('lease lost')
    );
  }

  private settle(pending: PendingReport, result: ReportResult | undefined, error?: unknown, drained = false): void {
    if (pending.settled === true) return;
    pending.settled = true;
    const { book, counters } = this.deps;
    book.finishReport(pending.held);
    if (result === undefined) {
      pending.reject(error);
      return;
    }
    if (result.accepted) counters.reported += 1;
    else counters.rejected += 1;
    pending.resolve(result);
    if (result.accepted && result.enqueued > 0 && !drained) this.deps.onEnqueued(pending.held?.namespace);
  }

  /** Resolves when nothing is queued or being sent. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    if (!this.idle && !this.deps.closed.stopped) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
