import { callProtocol, toMsgId } from './call.ts';
import type {
  ClaimOptions,
  ClaimResult,
  ClaimedStep,
  JsonObject,
  JsonValue,
  Queryable,
  StepType,
} from './types.ts';

export interface ClaimRow {
  outcome: 'claimed' | 'discarded' | 'deferred';
  reason: string | null;
  msg_id: string;
  task_id: string | null;
  step_id: string | null;
  step_name: string | null;
  handler: string | null;
  step_type: StepType | null;
  attempt: number | null;
  max_attempts: number | null;
  delivery: number | null;
  timeout_ms: number | null;
  lease_expires_at: Date | null;
  namespace: string;
  task_name: string | null;
  task_version: string | null;
  correlation_id: string | null;
  context: JsonObject | null;
  inputs: JsonObject | null;
  dependency_results: Record<string, JsonValue> | null;
  successors: string[] | null;
  dependency_names: string[] | null;
}

function toClaimedStep(row: ClaimRow): ClaimedStep {
  if (
    row.task_id === null ||
    row.step_id === null ||
    row.step_name === null ||
    row.handler === null ||
    row.step_type === null ||
    row.attempt === null ||
    row.max_attempts === null ||
    row.delivery === null ||
    row.timeout_ms === null ||
    row.lease_expires_at === null ||
    row.task_name === null ||
    row.task_version === null ||
    row.correlation_id === null
  ) {
    throw new Error(`tasker.claim_steps returned an incomplete claimed row for message ${row.msg_id}`);
  }
  return {
    msgId: toMsgId(row.msg_id),
    taskId: row.task_id,
    stepId: row.step_id,
    stepName: row.step_name,
    handler: row.handler,
    stepType: row.step_type,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    delivery: row.delivery,
    timeoutMs: row.timeout_ms,
    leaseExpiresAt: row.lease_expires_at,
    namespace: row.namespace,
    taskName: row.task_name,
    taskVersion: row.task_version,
    correlationId: row.correlation_id,
    context: row.context ?? {},
    inputs: row.inputs ?? {},
    dependencyResults: row.dependency_results ?? {},
    successors: row.successors ?? [],
    dependencyNames: row.dependency_names ?? [],
  };
}

/**
 * Claims up to `batchSize` steps of a namespace in one round trip (`tasker.claim_steps`):
 * each message read is claimed (with its full context), discarded (never runs) or deferred.
 *
 * @example
 * const { claimed } = await claimSteps(pool, { namespace: 'shop', batchSize: 10, leaseSeconds: 30 });
 */
export async function claimSteps(db: Queryable, options: ClaimOptions): Promise<ClaimResult> {
  const rows = await callProtocol<ClaimRow>(db, 'SELECT * FROM tasker.claim_steps($1, $2, $3, $4)', [
    options.namespace,
    options.batchSize,
    options.leaseSeconds,
    options.workerId ?? null,
  ]);
  return claimResultFromRows(rows);
}

/** A row of `tasker.claim_steps` as `to_jsonb` renders it (report_and_claim returns these). */
export type ClaimRowJson = Omit<ClaimRow, 'lease_expires_at' | 'msg_id'> & { lease_expires_at: string | null; msg_id: number | string };

/** The rows of `tasker.claim_steps` (as columns, or as `to_jsonb` rendered them) as a ClaimResult. */
export function claimResultFromRows(rows: ReadonlyArray<ClaimRow | ClaimRowJson>): ClaimResult {
  const result: ClaimResult = { claimed: [], unclaimed: [] };
  for (const row of rows) {
    if (row.outcome === 'claimed') {
      const leaseExpiresAt = typeof row.lease_expires_at === 'string' ? new Date(row.lease_expires_at) : row.lease_expires_at;
      result.claimed.push(toClaimedStep({ ...row, msg_id: String(row.msg_id), lease_expires_at: leaseExpiresAt }));
    } else {
      result.unclaimed.push({ msgId: toMsgId(row.msg_id), outcome: row.outcome, reason: row.reason ?? '' });
    }
  }
  return result;
}
