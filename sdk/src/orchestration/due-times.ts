/**
 * When the orchestrator's sweeps next have work, read in one statement so an event-driven
 * orchestrator can sleep until then instead of sweeping on a timer. Every part is a range scan
 * of a partial index the sweeps use anyway (workflow_steps_leases, tasks_deadlines,
 * workflow_steps_open_by_task) or a lookup in the small namespaces table, and every delay is
 * measured on the database's clock, so a skewed host clock cannot make it sweep early or late.
 */
import type { Queryable } from '../protocol/types.ts';

/** What the sweeps have to do now, and when they will next have something. */
export interface DueTimes {
  /**
   * A sweep has work now: a task deadline passed, or a lease expired on a step the lease sweep
   * closes (its deliveries are used up, or its task finished). The same conditions the sweep
   * functions test, so "sweepable" means a sweep would act.
   */
  sweepable: boolean;
  /** Until the earliest lease still running expires; null: no step is in progress. */
  leaseInMs: number | null;
  /** Until the earliest deadline still ahead of an unfinished task; null: none. */
  deadlineInMs: number | null;
  /**
   * Until work can be claimed that is not claimed yet (0: now): an enqueued step, a step
   * waiting for its retry, or an expired lease a worker will take again. A claim starts a lease
   * that no notification announces, so while such work exists the orchestrator looks again
   * often enough to see every new lease before it can expire. Null: nothing is claimable.
   */
  claimableInMs: number | null;
  /** Every namespace: the orchestrator listens on each one's queue channel. */
  namespaces: string[];
}

interface DueRow {
  sweepable: boolean;
  lease_in_ms: number | null;
  deadline_in_ms: number | null;
  claimable_in_ms: number | null;
  namespaces: string[];
}

// The sweeps' own predicates (tasker.sweep_expired_leases, tasker.sweep_task_timeouts): a lease
// expired when lease_expires_at < now(), a deadline passed when deadline_at < now().
const DUE_TIMES_SQL = `
SELECT
  EXISTS (SELECT 1 FROM tasker.tasks t
           WHERE t.deadline_at < now() AND t.deadline_at IS NOT NULL AND t.state IN ('pending', 'in_progress'))
  OR EXISTS (SELECT 1 FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
              WHERE s.state = 'in_progress' AND s.lease_expires_at < now()
                AND (s.deliveries >= s.max_deliveries OR t.state NOT IN ('pending', 'in_progress'))) AS sweepable,
  (SELECT extract(epoch FROM min(s.lease_expires_at) - now()) * 1000
     FROM tasker.workflow_steps s
    WHERE s.state = 'in_progress' AND s.lease_expires_at >= now())::float8 AS lease_in_ms,
  (SELECT extract(epoch FROM min(t.deadline_at) - now()) * 1000
     FROM tasker.tasks t
    WHERE t.deadline_at >= now() AND t.deadline_at IS NOT NULL AND t.state IN ('pending', 'in_progress'))::float8 AS deadline_in_ms,
  CASE
    WHEN EXISTS (SELECT 1 FROM tasker.workflow_steps s WHERE s.state = 'enqueued')
      OR EXISTS (SELECT 1 FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
                  WHERE s.state = 'in_progress' AND s.lease_expires_at < now()
                    AND s.deliveries < s.max_deliveries AND t.state IN ('pending', 'in_progress'))
    THEN 0
    -- greatest() skips NULLs, so without the CASE "no retry waiting" would read as "due now".
    ELSE (SELECT CASE WHEN min(s.next_retry_at) IS NOT NULL
                      THEN greatest(0, extract(epoch FROM min(s.next_retry_at) - now()) * 1000) END
            FROM tasker.workflow_steps s WHERE s.state = 'waiting_for_retry')
  END::float8 AS claimable_in_ms,
  ARRAY(SELECT n.name FROM tasker.namespaces n ORDER BY n.name) AS namespaces`;

/** Reads the due times (one round trip). */
export async function readDueTimes(db: Queryable): Promise<DueTimes> {
  const { rows } = await db.query<DueRow>(DUE_TIMES_SQL);
  const row = rows[0];
  if (row === undefined) throw new Error('the due-times query returned no row');
  return {
    sweepable: row.sweepable,
    leaseInMs: row.lease_in_ms,
    deadlineInMs: row.deadline_in_ms,
    claimableInMs: row.claimable_in_ms,
    namespaces: row.namespaces,
  };
}
