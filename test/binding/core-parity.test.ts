/**
 * Where the native cores (napi, ffi) behaved differently from the pg reference, found by review:
 * - after a full buffer's leases lapsed by the core's clock, next() dropped them but the claim
 *   loop, waiting for room, was never woken: the worker stopped claiming for good;
 * - claimRoundTrips counted claims that never reached a database refusing connections;
 * - a batch refused as a whole and resent report by report was not counted as a report retry;
 * - a step whose report was queued was still a running handler to lease lapses, heartbeat
 *   aborts and abandon();
 * - abandon() after drain() answered true.
 * Every case runs on every binding.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerCoreClosedError } from '../../sdk/src/binding/errors.ts';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { WorkerCore, WorkerCoreConfig } from '../../sdk/src/binding/types.ts';
import { createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { DbProxy } from '../support/db-proxy.ts';
import { single } from '../support/templates.ts';
import { bindingsUnderTest } from './bindings-under-test.ts';
import { bounded, sleep, success, waitFor } from './helpers.ts';

const NS = 'parity_ns';
let db: TestDatabase | undefined;
let proxy: DbProxy | undefined;
let core: WorkerCore | undefined;

afterEach(async () => {
  await proxy?.destroy();
  if (core !== undefined) await bounded('drain after the test', core.drain(0), 20_000).catch(() => {});
  await db?.drop();
  db = proxy = core = undefined;
});

for (const name of bindingsUnderTest()) {
  describe(name, () => {
    /** A core over `tasks` single-step tasks, through a proxy when `proxied`. */
    async function start(tasks: number, config: Partial<WorkerCoreConfig>, proxied: boolean): Promise<WorkerCore> {
      db = await createTestDatabase();
      await registerTemplate(db.pool, single(NS));
      for (let i = 0; i < tasks; i += 1) await createTask(db.pool, { namespace: NS, name: 'single' });
      if (proxied) proxy = await DbProxy.start(db.url);
      const binding = await loadBinding(name, { allowFallback: false });
      core = await binding.createWorkerCore({
        databaseUrl: proxied ? proxy!.url(db.url) : db.url,
        workerId: `${name}-parity`,
        namespaces: [NS],
        mode: 'PollingOnly',
        ...config,
      });
      return core;
    }

    const fullBuffer = { pollIntervalMs: 50, batchSize: 2, maxBatchSize: 2, prefetch: 2 };

    it('claims again after a partition longer than the lease dropped its full buffer', { timeout: 40_000 }, async () => {
      const running = await start(2, { ...fullBuffer, leaseSeconds: 2 }, true);
      await waitFor('2 steps buffered (the buffer is full)', () => running.stats().buffered === 2);
      proxy!.freeze();
      await sleep(2_500);
      expect(await running.next(2, 0), 'lapsed leases are not handed out').toEqual([]);
      expect(running.stats().buffered).toBe(0);
      proxy!.thaw();
      proxy!.cutAll();
      const steps = await running.next(2, 8_000);
      expect(steps.length, `stats ${JSON.stringify(running.stats())}`).toBeGreaterThan(0);
    });

    it('claims again when heartbeats rarer than the lease let its buffered leases lapse', { timeout: 30_000 }, async () => {
      const running = await start(2, { ...fullBuffer, leaseSeconds: 1, heartbeatMs: 86_400_000 }, false);
      await waitFor('2 steps buffered (the buffer is full)', () => running.stats().buffered === 2);
      await sleep(1_300);
      const steps = await running.next(2, 6_000);
      expect(steps.length, `stats ${JSON.stringify(running.stats())}`).toBeGreaterThan(0);
    });

    it('counts no claim round trip while the database refuses connections', { timeout: 30_000 }, async () => {
      const running = await start(0, { pollIntervalMs: 50 }, true);
      await sleep(500);
      proxy!.refuseNew = true;
      proxy!.cutAll();
      await sleep(300);
      const before = running.stats().claimRoundTrips;
      await sleep(3_000);
      expect(running.stats().claimRoundTrips - before, JSON.stringify(running.stats())).toBe(0);
    });

    it('counts a batch refused as a whole and resent report by report as a report retry', { timeout: 30_000 }, async () => {
      const running = await start(2, {}, false);
      await waitFor('2 buffered', () => running.stats().buffered === 2);
      const [good, bad] = await running.next(2, 5_000);
      const outcomes = await Promise.allSettled([running.report(success(good!)), running.report(success(bad!, { note: 'a\u0000b' }))]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
      expect(running.stats()).toMatchObject({ reported: 1, reportRetries: 1 });
    });

    it('neither aborts nor abandons a step whose report is queued', { timeout: 30_000 }, async () => {
      const running = await start(1, { leaseSeconds: 2 }, true);
      const [step] = await running.next(1, 10_000);
      expect(step).toBeDefined();
      proxy!.freeze();
      running.report(success(step!)).catch(() => {});
      await sleep(100);
      expect(running.abandon(step!.stepId, step!.attempt), 'its handler reported: nothing to abandon').toBe(false);
      expect(running.stats().inFlight).toBe(1);
      const ids: string[] = [];
      const end = performance.now() + 3_000;
      while (performance.now() < end) {
        ids.push(...running.takeAborted(), ...running.takeLapsed());
        await sleep(50);
      }
      expect(ids, 'no handler runs any more: nothing to abort when its lease lapses').toEqual([]);
    });

    it('after drain: next() [], takeAborted() [], abandon() false, report() closed', { timeout: 30_000 }, async () => {
      const running = await start(2, {}, false);
      const [step] = await running.next(1, 10_000);
      expect((await running.drain(200)).abandoned).toBe(1);
      expect(await running.next(5, 100)).toEqual([]);
      expect(running.takeAborted()).toEqual([]);
      expect(running.abandon(step!.stepId, step!.attempt)).toBe(false);
      await expect(running.report(success(step!))).rejects.toBeInstanceOf(WorkerCoreClosedError);
    });
  });
}
