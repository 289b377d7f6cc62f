/**
 * stats() after drain() must count what happened during the drain (docs/bindings.md: stats() are
 * the core's counters "since it started"; the pg binding and napi read them live). A report
 * committed while the core drains is counted by pg and napi; the ffi adapter answers the counters
 * it read when drain() started (sdk/src/binding/ffi/core.ts, #drainOnce), so it is lost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { WorkerCore } from '../../sdk/src/binding/types.ts';
import { createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { single } from '../support/templates.ts';
import { bounded, sleep, success, waitFor } from '../binding/helpers.ts';

const NS = 'rev_stats_ns';
let db: TestDatabase | undefined;
let core: WorkerCore | undefined;

afterEach(async () => {
  if (core !== undefined) await core.drain(0).catch(() => {});
  await db?.drop();
  db = core = undefined;
});

for (const name of ['pg', 'napi', 'ffi'] as const) {
  describe(name, () => {
    it('stats() after drain counts a report committed during the drain', { timeout: 60_000 }, async () => {
      db = await createTestDatabase();
      await registerTemplate(db.pool, single(NS));
      await createTask(db.pool, { namespace: NS, name: 'single' });
      const binding = await loadBinding(name, { allowFallback: false });
      const running = await binding.createWorkerCore({ databaseUrl: db.url, workerId: `${name}-stats`, namespaces: [NS], mode: 'PollingOnly' });
      core = running;
      await waitFor('1 step buffered', () => running.stats().buffered === 1);
      const [step] = await running.next(1, 5_000);
      expect(step).toBeDefined();
      const draining = running.drain(10_000);
      await sleep(200);
      const result = await running.report(success(step!));
      expect(result.accepted).toBe(true);
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
