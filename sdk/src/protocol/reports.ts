import { callProtocol } from './call.ts';
import { claimResultFromRows, type ClaimRowJson } from './claims.ts';
import type { ClaimResult, Queryable, ReportResult, StepReport, StepState, TaskState } from './types.ts';

interface ReportRow {
  report_index: number;
  step_id: string;
  accepted: boolean;
  reason: string | null;
  step_state: StepState | null;
  task_state: TaskState | null;
  next_retry_at: Date | null;
  enqueued: number;
}

function toWire(report: StepReport): Record<string, unknown> {
  return {
    step_id: report.stepId,
    attempt: report.attempt,
    delivery: report.delivery,
    outcome: report.outcome,
    result: report.result ?? null,
    error: report.error ?? null,
    retry_after_ms: report.retryAfterMs ?? null,
    activate: report.activate ?? null,
    batch: report.batch ?? null,
  };
}

function fromRow(row: ReportRow): ReportResult {
  return {
    stepId: row.step_id,
    accepted: row.accepted,
    reason: row.reason,
    stepState: row.step_state,
    taskState: row.task_state,
    nextRetryAt: row.next_retry_at,
    enqueued: row.enqueued,
  };
}

/**
 * Reports the outcome of one delivery (`tasker.report_step`). A report whose lease was lost is
 * returned with `accepted: false` and the reason; nothing changes then.
 */
export async function reportStep(db: Queryable, report: StepReport, workerId?: string): Promise<ReportResult> {
  const results = await reportSteps(db, [report], workerId);
  const result = results[0];
  if (result === undefined) throw new Error('tasker.report_steps returned no row');
  return result;
}

/** Results of report rows, in the order of `reports`. */
function inReportOrder(reports: readonly StepReport[], rows: readonly ReportRow[], fn: string): ReportResult[] {
  const byIndex = new Map(rows.map((row) => [row.report_index, fromRow(row)]));
  return reports.map((report, index) => {
    const result = byIndex.get(index);
    if (result === undefined) throw new Error(`tasker.${fn} returned no row for report ${index} (step ${report.stepId})`);
    return result;
  });
}

interface ReportAndClaimRow extends ReportRow {
  kind: 'report' | 'claimed' | 'discarded' | 'deferred';
  claim: ClaimRowJson | null;
}

/** What one `reportAndClaim` round trip did. */
export interface ReportAndClaimResult {
  /** One per report, in the order of the reports. */
  results: ReportResult[];
  /** What was claimed with them (nothing when `claimMax` is 0). */
  claim: ClaimResult;
}

/**
 * Reports many outcomes and, in the same transaction, claims up to `claimMax` steps for
 * `workerId` from the namespaces where those reports enqueued successors
 * (`tasker.report_and_claim`): a worker that finished a step takes its ready successor in the
 * same round trip.
 *
 * @example
 * const { results, claim } = await reportAndClaim(pool, [report], { workerId: 'w1', claimMax: 1, leaseSeconds: 30 });
 */
export async function reportAndClaim(
  db: Queryable,
  reports: readonly StepReport[],
  options: { workerId: string; claimMax: number; leaseSeconds: number },
): Promise<ReportAndClaimResult> {
  if (reports.length === 0) return { results: [], claim: { claimed: [], unclaimed: [] } };
  const rows = await callProtocol<ReportAndClaimRow>(db, 'SELECT * FROM tasker.report_and_claim($1::jsonb, $2, $3, $4)', [
    JSON.stringify(reports.map(toWire)),
    options.workerId,
    options.claimMax,
    options.leaseSeconds,
  ]);
  const claims: ClaimRowJson[] = [];
  const reported: ReportRow[] = [];
  for (const row of rows) {
    if (row.kind === 'report') reported.push(row);
    else if (row.claim !== null) claims.push(row.claim);
  }
  return { results: inReportOrder(reports, reported, 'report_and_claim'), claim: claimResultFromRows(claims) };
}

/**
 * Reports many outcomes in one round trip and one transaction (`tasker.report_steps`); results
 * come back in the order of `reports`.
 */
export async function reportSteps(
  db: Queryable,
  reports: readonly StepReport[],
  workerId?: string,
): Promise<ReportResult[]> {
  if (reports.length === 0) return [];
  const rows = await callProtocol<ReportRow>(db, 'SELECT * FROM tasker.report_steps($1::jsonb, $2)', [
    JSON.stringify(reports.map(toWire)),
    workerId ?? null,
  ]);
  return inReportOrder(reports, rows, 'report_steps');
}
