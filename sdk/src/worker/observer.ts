/**
 * What a Worker tells whoever watches its health (the health servers' metrics and readiness):
 * each claim round, and each step's outcome. An interface here, so the worker does not depend
 * on the servers; every call is cheap and synchronous, and must not throw.
 */
import type { ClaimedStep, ReportResult, StepReport } from '../protocol/types.ts';

/** Receives a Worker's claim rounds and step outcomes, for health and metrics; calls are synchronous and never throw. */
export interface WorkerObserver {
  /** A next() call returned, with the steps it handed out (possibly none), after `durationMs`. */
  claimRound(durationMs: number, steps: readonly ClaimedStep[]): void;
  /** A next() call threw (the loop retries). */
  claimFailed(): void;
  /** The claim loop waits for a free slot (every slot busy), or stopped waiting. Not a stall. */
  waitingForSlot(waiting: boolean): void;
  /**
   * A step's report settled. `result` is null when the report was not sent (aborted at shutdown)
   * or could not be committed.
   */
  stepSettled(step: ClaimedStep, report: StepReport, result: ReportResult | null, durationMs: number): void;
}
