/**
 * What drain() does with a step in flight, the same on pg, napi and ffi (found by a review of the
 * native adapters): drain(Infinity) waits for its report (ffi and pg used to take it as 0 and
 * abandon the step at once), and stats() afterwards counts the report committed during the drain
 * (ffi used to answer the counters read when the drain began: the handle is gone by then, and
 * tasker_core_drain's answer now carries the final ones).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { WorkerCore } from '../../sdk/src/binding/types.ts';
import type { ClaimedStep } from '../../sdk/src/protocol/types.ts';
import { createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { single } from '../support/templates.ts';
import { bounded, sleep, success, waitFor } from './helpers.ts';

const NS = 'drain_parity_ns';
let db: TestDatabase | undefined;
let core: WorkerCore | undefined;

afterEach(async () => {
  if (core !== undefined) await core.drain(0).catch(() => {});
  await db?.drop();
  db = core = undefined;
});

/** A core of `name` holding one step of a fresh single-step task in flight. */
async function coreWithStepInFlight(name: 'pg' | 'napi' | 'ffi'): Promise<{ running: WorkerCore; step: ClaimedStep }> {
  db = await createTestDatabase();
  await registerTemplate(db.pool, single(NS));
  await createTask(db.pool, { namespace: NS, name: 'single' });
  const binding = await loadBinding(name, { allowFallback: false });
  const running = await binding.createWorkerCore({ databaseUrl: db.url, workerId: `${name}-drain`, namespaces: [NS], mode: 'PollingOnly' });
  core = running;
  await waitFor('1 step buffered', () => running.stats().buffered === 1);
  const [step] = await running.next(1, 5_000);
  if (step === undefined) throw new Error('no step handed out');
  return { running, step };
}

for (const name of ['pg', 'napi', 'ffi'] as const) {
  describe(name, () => {
    it('drain(Infinity) waits for the in-flight step to be reported', { timeout: 60_000 }, async () => {
      const { running, step } = await coreWithStepInFlight(name);
      const draining = running.drain(Number.POSITIVE_INFINITY);
      await sleep(300);
      const reported = running.report(success(step)).then(
        (result) => `accepted=${result.accepted}`,
        (error: unknown) => `rejected ${error instanceof Error ? error.name : String(error)}`,
      );
      const drained = await bounded('drain(Infinity)', draining, 15_000);
      expect({ drained, reported: await reported }).toEqual({ drained: { abandoned: 0, released: 0 }, reported: 'accepted=true' });
    });

    it('stats() after drain counts a report committed during the drain', { timeout: 60_000 }, async () => {
      const { running, step } = await coreWithStepInFlight(name);
      const draining = running.drain(10_000);
      await sleep(200);
      expect((await running.report(success(step))).accepted).toBe(true);
      expect(await bounded('drain', draining, 15_000)).toEqual({ abandoned: 0, released: 0 });
      const stats = running.stats();
      expect({ reported: stats.reported, reportRoundTrips: stats.reportRoundTrips, inFlight: stats.inFlight }).toEqual({
        reported: 1,
        reportRoundTrips: 1,
        inFlight: 0,
      });
    });
  });
}
