/** What a Worker tells its owner about each step it ran. */
import type { JsRuntime } from '../binding/ffi/load.ts';
import type { ClaimedStep, ReportResult, StepReport } from '../protocol/types.ts';

/** One step this worker ran, after its report settled. */
export interface StepFinishedEvent {
  step: ClaimedStep;
  /** What the handler's outcome was turned into. */
  report: StepReport;
  /** What the database did with it; null when the report was not sent (aborted at shutdown) or failed. */
  result: ReportResult | null;
  /** Handler time, from the call to its outcome, in ms. */
  durationMs: number;
  workerId: string;
  runtime: JsRuntime;
}
