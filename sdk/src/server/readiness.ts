/**
 * The readiness checks, as pure functions of what was measured, so each rule can be tested on
 * its own. A service is ready only when every check passes: it runs (not starting, draining or
 * stopped), its database answers, its event loop was not blocked past the threshold within the
 * lag window, and, for a worker, its claim loop is turning, for an orchestrator, its sweeps.
 */
import type { CheckResult, DatabaseStatus } from './health-types.ts';

/** The service is running: a starting, draining or stopped service takes no new work. */
export function stateCheck(state: string): CheckResult {
  return state === 'running'
    ? { name: 'state', ok: true, message: 'running' }
    : { name: 'state', ok: false, message: state === 'stopping' ? 'draining: no new work is taken' : `the service is ${state}` };
}

export function databaseCheck(status: DatabaseStatus): CheckResult {
  return status.reachable
    ? { name: 'database', ok: true, message: `reachable (${status.latencyMs} ms)` }
    : { name: 'database', ok: false, message: `unreachable: ${status.error ?? 'no answer'}` };
}

/** The loop must not have been blocked longer than `thresholdMs` within the lag window. */
export function eventLoopCheck(maxLagMs: number, thresholdMs: number): CheckResult {
  const lag = Math.round(maxLagMs);
  return maxLagMs <= thresholdMs
    ? { name: 'event_loop', ok: true, message: `largest lag ${lag} ms (limit ${thresholdMs} ms)` }
    : { name: 'event_loop', ok: false, message: `blocked for ${lag} ms (limit ${thresholdMs} ms)` };
}

export interface ClaimLoopFacts {
  /** The worker's state: only a running worker's loop must turn. */
  state: string;
  /** Since the worker's loop last finished a next() call (or stopped waiting for a slot). */
  ageMs: number;
  /**
   * Since the worker core last finished a claim round trip to the database (or handed out steps,
   * or stopped waiting for a slot). next() returns empty-handed after its wait even while the
   * core's claim hangs (on a lock, say), so the worker's own loop cannot show that stall; this
   * does. Undefined where a healthy core may make no round trip for long: EventDrivenOnly claims
   * only when notified.
   */
  coreAgeMs: number | undefined;
  /** Every slot busy: the loop waits for one by design. */
  waitingForSlot: boolean;
  /** Longest a running loop may go without a round. */
  stallMs: number;
}

/**
 * A running worker whose claim loop finished no round for `stallMs` while a slot was free is
 * stalled: it holds a place in the deployment but takes no work. Each round ends within a
 * second when healthy (next() waits at most that long), and a polling core makes a round trip
 * at least every poll interval, so the limit is many rounds long.
 */
export function claimLoopCheck(facts: ClaimLoopFacts): CheckResult {
  const seconds = (ms: number): string => (ms / 1000).toFixed(1);
  const limit = `(limit ${seconds(facts.stallMs)} s)`;
  if (facts.state !== 'running') return { name: 'claim_loop', ok: true, message: `not claiming: the worker is ${facts.state}` };
  if (facts.waitingForSlot) return { name: 'claim_loop', ok: true, message: 'every slot is busy; waiting for one to free' };
  if (facts.ageMs > facts.stallMs) return { name: 'claim_loop', ok: false, message: `stalled: no claim round for ${seconds(facts.ageMs)} s ${limit}` };
  if (facts.coreAgeMs !== undefined && facts.coreAgeMs > facts.stallMs) {
    return { name: 'claim_loop', ok: false, message: `stalled: no claim round trip to the database for ${seconds(facts.coreAgeMs)} s ${limit}` };
  }
  const latest = facts.coreAgeMs === undefined ? facts.ageMs : Math.max(facts.ageMs, facts.coreAgeMs);
  return { name: 'claim_loop', ok: true, message: `last round ${seconds(latest)} s ago` };
}

/** Failed sweep passes in a row after which an orchestrator is not ready. */
export const SWEEP_FAILURES_NOT_READY = 3;

export interface SweepFacts {
  /** The orchestrator's state: only a running orchestrator sweeps. */
  state: string;
  /** Sweep passes that failed since the last one that succeeded. */
  consecutiveErrors: number;
  /** Why the last one failed. */
  lastError: string | undefined;
}

/**
 * An orchestrator whose last SWEEP_FAILURES_NOT_READY sweep passes all failed is not doing its
 * job (expired leases, task deadlines) even when its database answers: a sweep that fails on
 * every pass, say on a lock timeout or a broken function, is what this catches. One failure is
 * not enough: the next pass is a sweep interval away and a transient error passes.
 */
export function sweepCheck(facts: SweepFacts): CheckResult {
  if (facts.state !== 'running') return { name: 'sweeps', ok: true, message: `not sweeping: the orchestrator is ${facts.state}` };
  if (facts.consecutiveErrors >= SWEEP_FAILURES_NOT_READY) {
    return {
      name: 'sweeps',
      ok: false,
      message: `the last ${facts.consecutiveErrors} sweep passes failed: ${facts.lastError ?? 'no reason recorded'}`,
    };
  }
  return {
    name: 'sweeps',
    ok: true,
    message: facts.consecutiveErrors === 0 ? 'sweeping' : `the last ${facts.consecutiveErrors} sweep passes failed (limit ${SWEEP_FAILURES_NOT_READY})`,
  };
}
