import { callProtocol } from './call.ts';
import type { LeaseExtension, LeaseRef, Queryable, SweepAction, TaskState } from './types.ts';

interface ExtendRow {
  step_id: string;
  extended: boolean;
  abort: boolean;
  lease_expires_at: Date | null;
  task_state: TaskState | null;
}

/**
 * Extends the leases a worker holds (`tasker.extend_leases`). A result with `abort: true` means
 * the handler should stop: the lease is gone or the task is no longer running.
 */
export async function extendLeases(
  db: Queryable,
  leases: readonly LeaseRef[],
  leaseSeconds: number,
): Promise<LeaseExtension[]> {
  if (leases.length === 0) return [];
  const rows = await callProtocol<ExtendRow>(
    db,
    'SELECT * FROM tasker.extend_leases($1::uuid[], $2::int[], $3::int[], $4)',
    [leases.map((l) => l.stepId), leases.map((l) => l.attempt), leases.map((l) => l.delivery), leaseSeconds],
  );
  return rows.map((row) => ({
    stepId: row.step_id,
    extended: row.extended,
    abort: row.abort,
    leaseExpiresAt: row.lease_expires_at,
    taskState: row.task_state,
  }));
}

/**
 * Closes expired leases that will not be redelivered (`tasker.sweep_expired_leases`): poison
 * steps past their delivery limit fail with the reason, steps of finished tasks are cancelled.
 */
export async function sweepExpiredLeases(db: Queryable, limit = 100, actor = 'sweeper'): Promise<SweepAction[]> {
  const rows = await callProtocol<{ step_id: string; task_id: string; action: SweepAction['action']; reason: string }>(
    db,
    'SELECT * FROM tasker.sweep_expired_leases($1, $2)',
    [limit, actor],
  );
  return rows.map((row) => ({ stepId: row.step_id, taskId: row.task_id, action: row.action, reason: row.reason }));
}

/**
 * Gives back leases on steps this worker claimed but never started (`tasker.release_leases`):
 * they return to `enqueued` and their messages become visible at once. Used when draining.
 */
export async function releaseLeases(
  db: Queryable,
  leases: readonly LeaseRef[],
  workerId?: string,
): Promise<Array<{ stepId: string; released: boolean }>> {
  if (leases.length === 0) return [];
  const rows = await callProtocol<{ step_id: string; released: boolean }>(
    db,
    'SELECT * FROM tasker.release_leases($1::uuid[], $2::int[], $3::int[], $4)',
    [leases.map((l) => l.stepId), leases.map((l) => l.attempt), leases.map((l) => l.delivery), workerId ?? null],
  );
  return rows.map((row) => ({ stepId: row.step_id, released: row.released }));
}
