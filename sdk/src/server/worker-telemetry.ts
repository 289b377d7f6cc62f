/**
 * A worker's metrics and claim-loop heartbeat, fed by the worker as things happen (it is the
 * worker's WorkerObserver). Values the worker core keeps itself (lease extensions, round trips,
 * reconnects) are read from its stats at scrape time instead, so they are never copied twice.
 */
import type { ClaimedStep, ReportResult, StepReport } from '../protocol/types.ts';
import type { WorkerObserver } from '../worker/observer.ts';
import type { WorkerStats } from '../worker/worker.ts';
import type { Counter, Histogram } from './metrics/families.ts';
import { DURATION_BUCKETS, LATENCY_BUCKETS, type MetricsRegistry } from './metrics/registry.ts';

const STEP_LABELS = ['namespace', 'handler'] as const;
/** Least time between two reads of the core's counters from the claim loop. */
const CORE_SAMPLE_MS = 500;

export class WorkerTelemetry implements WorkerObserver {
  private readonly claimed: Counter;
  private readonly succeeded: Counter;
  private readonly failed: Counter;
  private readonly retried: Counter;
  private readonly rejected: Counter;
  private readonly abandoned: Counter;
  private readonly reportErrors: Counter;
  private readonly claimErrors: Counter;
  private readonly duration: Histogram;
  private readonly claimLatency: Histogram;
  private lastRoundAt = performance.now();
  private waiting = false;
  /** When the core's claim round-trip counter last moved (or the loop otherwise progressed). */
  private coreProgressAt = performance.now();
  private coreRoundTrips: number | undefined;
  private coreSampledAt = Number.NEGATIVE_INFINITY;

  constructor(
    registry: MetricsRegistry,
    private readonly stats: () => WorkerStats,
  ) {
    this.claimed = registry.counter('tasker_steps_claimed_total', 'Steps handed to this worker by a claim.', STEP_LABELS);
    this.succeeded = registry.counter('tasker_steps_succeeded_total', 'Steps whose success report the database accepted.', STEP_LABELS);
    this.failed = registry.counter('tasker_steps_failed_total', 'Steps that failed for good (permanent failure or last attempt).', STEP_LABELS);
    this.retried = registry.counter('tasker_steps_retried_total', 'Step failures after which the step will run again.', STEP_LABELS);
    this.rejected = registry.counter('tasker_steps_rejected_total', 'Reports the database refused (lease lost, step finished elsewhere).', STEP_LABELS);
    this.abandoned = registry.counter('tasker_steps_abandoned_total', 'Steps aborted at shutdown and left for redelivery.', STEP_LABELS);
    this.reportErrors = registry.counter('tasker_step_report_errors_total', 'Reports that could not be committed.', STEP_LABELS);
    this.duration = registry.histogram(
      'tasker_step_duration_seconds',
      'Handler run time, from the call to its outcome, by outcome (success, retryable_failure, permanent_failure).',
      [...STEP_LABELS, 'outcome'],
      DURATION_BUCKETS,
    );
    this.claimLatency = registry.histogram(
      'tasker_claim_latency_seconds',
      'Time next() took to hand out steps, for rounds that handed out any: near 0 when claimed steps were buffered, else the claim round trip plus any wait for work.',
      [],
      LATENCY_BUCKETS,
    );
    this.claimErrors = registry.counter('tasker_claim_errors_total', 'Claim calls that failed (the claim loop retries).');
    const core = (read: (core: NonNullable<WorkerStats['core']>) => number) => (): [Record<string, string>, number][] => {
      const value = stats().core;
      return value === null ? [] : [[{}, read(value)]];
    };
    registry.collectedCounter('tasker_lease_extensions_total', 'Lease extensions (heartbeats) that succeeded.', [], core((c) => c.leaseExtensions));
    registry.collectedCounter('tasker_claim_round_trips_total', 'Claim round trips to the database.', [], core((c) => c.claimRoundTrips));
    registry.collectedCounter('tasker_messages_discarded_total', 'Queue messages a claim discarded (never run).', [], core((c) => c.discarded));
    registry.collectedCounter('tasker_report_round_trips_total', 'Report round trips (batches) to the database.', [], core((c) => c.reportRoundTrips));
    registry.collectedCounter('tasker_report_retries_total', 'Report round trips that failed and were retried.', [], core((c) => c.reportRetries));
    registry.collectedCounter('tasker_database_reconnects_total', 'Times the worker core lost and regained its database.', [], core((c) => c.reconnects));
    registry.collectedGauge('tasker_steps_buffered', 'Claimed steps waiting for a free slot.', [], core((c) => c.buffered));
    registry.collectedGauge('tasker_steps_in_flight', 'Steps handed to handlers and not yet reported.', [], core((c) => c.inFlight));
    registry.collectedGauge('tasker_steps_running', 'Handlers running now.', [], () => [[{}, stats().running]]);
    registry.collectedGauge('tasker_steps_reporting', 'Steps whose handlers finished and whose reports are not yet answered.', [], () => [[{}, stats().reporting]]);
    registry.collectedGauge('tasker_claim_size', 'Steps the next claim asks for (grows while handlers keep up).', [], core((c) => c.claimSize));
  }

  /** Since the claim loop last finished a round or stopped waiting for a slot. */
  claimLoopAgeMs(): number {
    return performance.now() - this.lastRoundAt;
  }

  /** Since the worker core last made a claim round trip (or handed out steps, or a slot freed). */
  coreClaimAgeMs(): number {
    this.sampleCore(performance.now());
    return performance.now() - this.coreProgressAt;
  }

  /** True while every slot is busy, so the loop waits by design. */
  waitingForSlotNow(): boolean {
    return this.waiting;
  }

  claimRound(durationMs: number, steps: readonly ClaimedStep[]): void {
    const now = performance.now();
    this.lastRoundAt = now;
    // Sampled here too, not only when readiness is asked, so a stall is timed from when the
    // counter stopped rather than from the first probe after it; at most twice a second, since
    // a busy worker returns from next() far more often.
    if (now - this.coreSampledAt >= CORE_SAMPLE_MS) this.sampleCore(now);
    if (steps.length === 0) return;
    this.coreProgressAt = now;
    this.claimLatency.observe({}, durationMs / 1000);
    for (const step of steps) this.claimed.inc({ namespace: step.namespace, handler: step.handler });
  }

  claimFailed(): void {
    this.claimErrors.inc();
  }

  waitingForSlot(waiting: boolean): void {
    this.waiting = waiting;
    // The wait itself is not a stall, nor the core's pause once its buffer is full: the clocks
    // start again when a slot frees.
    this.lastRoundAt = performance.now();
    this.coreProgressAt = this.lastRoundAt;
  }

  private sampleCore(now: number): void {
    this.coreSampledAt = now;
    const trips = this.stats().core?.claimRoundTrips;
    if (trips === undefined || trips === this.coreRoundTrips) return;
    this.coreRoundTrips = trips;
    this.coreProgressAt = now;
  }

  /** Counted by the same rules as Worker.stats(): by what the database made of the report. */
  stepSettled(step: ClaimedStep, report: StepReport, result: ReportResult | null, durationMs: number): void {
    const labels = { namespace: step.namespace, handler: step.handler };
    if (report.error?.['kind'] === 'WorkerShutdown') {
      this.abandoned.inc(labels);
      return;
    }
    this.duration.observe({ ...labels, outcome: report.outcome }, durationMs / 1000);
    if (result === null) this.reportErrors.inc(labels);
    else if (!result.accepted) this.rejected.inc(labels);
    else if (report.outcome === 'success') this.succeeded.inc(labels);
    else if (result.stepState === 'waiting_for_retry') this.retried.inc(labels);
    else this.failed.inc(labels);
  }
}
