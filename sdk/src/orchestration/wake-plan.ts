/**
 * How long an event-driven orchestrator may sleep after reading its due times: until the first
 * lease or deadline falls due, and no longer than it takes a claim it was not told about to
 * become visible. A pure function, so each rule can be tested on its own.
 */
import type { DueTimes } from './due-times.ts';

/**
 * The shortest lease claim_steps grants (it refuses p_lease_seconds < 1). Looking again at least
 * this often while claimable work exists sees every new lease before it can expire.
 */
export const CLAIM_WATCH_MS = 1_000;
/** Timers may fire a little early on some runtimes; the database must see the due time passed. */
export const DUE_MARGIN_MS = 10;
/**
 * Work still sweepable right after a sweep is held by another orchestrator (the sweeps skip
 * locked rows) or beyond one pass's cap: try again soon, not in a tight loop.
 */
export const OVERDUE_RETRY_MS = 250;
/**
 * Longest sleep of EventDrivenOnly with nothing due. Every change the sweeps care about is
 * announced (a new namespace too, on tasker_namespace), so this is only a safety net for a
 * notification lost with its connection: one small read a minute, no sweep.
 */
export const IDLE_REFRESH_MS = 60_000;

/** The delay until the next wake-up, in ms. */
export function nextWakeDelay(due: DueTimes, msUntilPoll: number | undefined): number {
  const candidates = [msUntilPoll ?? IDLE_REFRESH_MS];
  if (due.sweepable) candidates.push(OVERDUE_RETRY_MS);
  if (due.leaseInMs !== null) candidates.push(due.leaseInMs + DUE_MARGIN_MS);
  if (due.deadlineInMs !== null) candidates.push(due.deadlineInMs + DUE_MARGIN_MS);
  if (due.claimableInMs !== null) candidates.push(due.claimableInMs + CLAIM_WATCH_MS);
  return Math.max(0, Math.ceil(Math.min(...candidates)));
}
