import { callProtocol } from './call.ts';
import type { Queryable, ReportResult, StepReport, StepState, TaskState } from './types.ts';

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
  const byIndex = new Map(rows.map((row) => [row.report_index, fromRow(row)]));
  return reports.map((report, index) => {
    const result = byIndex.get(index);
    if (result === undefined) throw new Error(`tasker.report_steps returned no row for report ${index} (step ${report.stepId})`);
    return result;
  });
}
