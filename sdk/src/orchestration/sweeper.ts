/**
 * The orchestrator's periodic sweeps: expired leases (poison steps dead-lettered, steps of
 * finished tasks cancelled) and task deadlines. Each sweep is one SQL call that skips rows another
 * orchestrator holds, so any number of orchestrators sweep side by side without conflict.
 */
import { TaskerError } from '../errors.ts';
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

/**
 * A call of a pass failed after earlier calls had committed: `done` is what those did (tasks
 * already failed, steps already dead-lettered), so the caller can still count and log it.
 */
export class SweepPassError extends TaskerError {
  constructor(
    readonly done: SweepResult,
    cause: unknown,
  ) {
    super('SWEEP_FAILED', `a sweep call failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Runs both sweeps until nothing is left (or the per-pass cap), as `actor`. */
export async function sweepOnce(db: Queryable, actor: string): Promise<SweepResult> {
  const done: SweepResult = { leases: [], timeouts: [] };
  try {
    for (let call = 0; call < MAX_CALLS_PER_PASS; call += 1) {
      const batch = await sweepTaskTimeouts(db, BATCH, actor);
      done.timeouts.push(...batch);
      if (batch.length < BATCH) break;
    }
    for (let call = 0; call < MAX_CALLS_PER_PASS; call += 1) {
      const batch = await sweepExpiredLeases(db, BATCH, actor);
      done.leases.push(...batch);
      if (batch.length < BATCH) break;
    }
  } catch (error) {
    throw new SweepPassError(done, error);
  }
  return done;
}
