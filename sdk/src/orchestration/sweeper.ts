/**
 * The orchestrator's periodic sweeps: expired leases (poison steps dead-lettered, steps of
 * finished tasks cancelled) and task deadlines. Each sweep is one SQL call that skips rows another
 * orchestrator holds, so any number of orchestrators sweep side by side without conflict.
 */
import type { Queryable, SweepAction, TimedOutTask } from '../protocol/types.ts';
import { sweepExpiredLeases } from '../protocol/leases.ts';
import { sweepTaskTimeouts } from '../protocol/tasks.ts';

/** What one pass of the sweeper did. */
export interface SweepResult {
  leases: SweepAction[];
  timeouts: TimedOutTask[];
}

/** Rows handled per SQL call; a full batch means there may be more, so the pass calls again. */
const BATCH = 100;
/** A pass never loops forever on a flood; the next pass continues. */
const MAX_CALLS_PER_PASS = 20;

/** Runs both sweeps until nothing is left (or the per-pass cap), as `actor`. */
export async function sweepOnce(db: Queryable, actor: string): Promise<SweepResult> {
  const leases: SweepAction[] = [];
  const timeouts: TimedOutTask[] = [];
  for (let call = 0; call < MAX_CALLS_PER_PASS; call += 1) {
    const batch = await sweepTaskTimeouts(db, BATCH, actor);
    timeouts.push(...batch);
    if (batch.length < BATCH) break;
  }
  for (let call = 0; call < MAX_CALLS_PER_PASS; call += 1) {
    const batch = await sweepExpiredLeases(db, BATCH, actor);
    leases.push(...batch);
    if (batch.length < BATCH) break;
  }
  return { leases, timeouts };
}
