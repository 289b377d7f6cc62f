/**
 * The readiness rules one by one (pure functions of what was measured), and the event-loop lag
 * monitor measuring a loop that was really blocked.
 */
import { describe, expect, it } from 'vitest';
import { EventLoopLagMonitor } from '../../sdk/src/server/metrics/event-loop-lag.ts';
import { claimLoopCheck, databaseCheck, eventLoopCheck, stateCheck, sweepCheck } from '../../sdk/src/server/readiness.ts';

describe('readiness rules', () => {
  it('wants a running service', () => {
    expect(stateCheck('running').ok).toBe(true);
    expect(stateCheck('stopping')).toEqual({ name: 'state', ok: false, message: 'draining: no new work is taken' });
    expect(stateCheck('starting')).toEqual({ name: 'state', ok: false, message: 'the service is starting' });
  });

  it('wants a database that answers', () => {
    expect(databaseCheck({ reachable: true, latencyMs: 1.5 })).toEqual({ name: 'database', ok: true, message: 'reachable (1.5 ms)' });
    expect(databaseCheck({ reachable: false, latencyMs: 2, error: 'connect ECONNREFUSED 127.0.0.1:5432' })).toEqual({
      name: 'database',
      ok: false,
      message: 'unreachable: connect ECONNREFUSED 127.0.0.1:5432',
    });
  });

  it('calls an orchestrator unready only after three sweep passes in a row failed', () => {
    expect(sweepCheck({ state: 'running', consecutiveErrors: 0, lastError: undefined })).toEqual({ name: 'sweeps', ok: true, message: 'sweeping' });
    expect(sweepCheck({ state: 'running', consecutiveErrors: 2, lastError: 'x' })).toEqual({
      name: 'sweeps',
      ok: true,
      message: 'the last 2 sweep passes failed (limit 3)',
    });
    expect(sweepCheck({ state: 'running', consecutiveErrors: 3, lastError: 'canceling statement due to lock timeout' })).toEqual({
      name: 'sweeps',
      ok: false,
      message: 'the last 3 sweep passes failed: canceling statement due to lock timeout',
    });
    // A stopping orchestrator is unready by its state check already; this one does not pile on.
    expect(sweepCheck({ state: 'stopping', consecutiveErrors: 5, lastError: 'x' }).ok).toBe(true);
  });

  it('wants no event-loop block past the limit', () => {
    expect(eventLoopCheck(399.6, 400).ok).toBe(true);
    expect(eventLoopCheck(401, 400)).toEqual({ name: 'event_loop', ok: false, message: 'blocked for 401 ms (limit 400 ms)' });
  });

  it('calls a running claim loop stalled only when a slot is free and no round ended within the limit', () => {
    const facts = { state: 'running', ageMs: 12_000, coreAgeMs: 500, waitingForSlot: false, stallMs: 10_000 };
    expect(claimLoopCheck(facts)).toEqual({ name: 'claim_loop', ok: false, message: 'stalled: no claim round for 12.0 s (limit 10.0 s)' });
    expect(claimLoopCheck({ ...facts, ageMs: 9_000 })).toEqual({ name: 'claim_loop', ok: true, message: 'last round 9.0 s ago' });
    expect(claimLoopCheck({ ...facts, waitingForSlot: true }).ok).toBe(true);
    // A draining worker stops claiming on purpose; the state check speaks for it.
    expect(claimLoopCheck({ ...facts, state: 'stopping' }).ok).toBe(true);
  });

  it("calls a polling core's claims stalled when it made no round trip within the limit, though next() keeps returning", () => {
    const facts = { state: 'running', ageMs: 300, coreAgeMs: 11_000, waitingForSlot: false, stallMs: 10_000 };
    expect(claimLoopCheck(facts)).toEqual({
      name: 'claim_loop',
      ok: false,
      message: 'stalled: no claim round trip to the database for 11.0 s (limit 10.0 s)',
    });
    expect(claimLoopCheck({ ...facts, coreAgeMs: 9_500 })).toEqual({ name: 'claim_loop', ok: true, message: 'last round 9.5 s ago' });
    // Every slot busy: the core's buffer fills and it stops claiming by design.
    expect(claimLoopCheck({ ...facts, waitingForSlot: true }).ok).toBe(true);
    // EventDrivenOnly: an idle core claims only when notified, so its round trips say nothing.
    expect(claimLoopCheck({ ...facts, coreAgeMs: undefined })).toEqual({ name: 'claim_loop', ok: true, message: 'last round 0.3 s ago' });
  });
});

describe('EventLoopLagMonitor', () => {
  it('sees a blocked loop, keeps it for the window, then forgets it', async () => {
    const monitor = new EventLoopLagMonitor({ intervalMs: 20, windowMs: 600 });
    monitor.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(monitor.maxMs()).toBeLessThan(150);
      const until = Date.now() + 300;
      while (Date.now() < until) {
        /* block the loop */
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(monitor.maxMs()).toBeGreaterThanOrEqual(250);
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(monitor.maxMs()).toBeLessThan(150);
    } finally {
      monitor.stop();
    }
  });
});
