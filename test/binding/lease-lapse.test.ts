/**
 * A lease lapses by the core's own clock when its heartbeats go unanswered (a network partition,
 * test/support/db-proxy.ts): the running handler is named by takeLapsed() (not takeAborted(): it
 * is stopped and not reported) and a buffered step is never handed out, since by then another
 * worker may have claimed it. While heartbeats get through, a step running longer than its lease
 * is left alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { BindingModule, WorkerCore } from '../../sdk/src/binding/types.ts';
import { createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { DbProxy } from '../support/db-proxy.ts';
import { single } from '../support/templates.ts';
import { bindingsUnderTest } from './bindings-under-test.ts';
import { bounded, sleep, waitFor } from './helpers.ts';

const NS = 'lapse_ns';
const LEASE_SECONDS = 2;
let db: TestDatabase | undefined;
let proxy: DbProxy | undefined;
let core: WorkerCore | undefined;

afterEach(async () => {
  await proxy?.destroy();
  if (core !== undefined) await bounded('drain after the test', core.drain(0), 20_000).catch(() => {});
  await db?.drop();
  db = proxy = core = undefined;
});

/** Collects takeLapsed() (and takeAborted(), which must stay empty) for `ms`, every 50 ms (as the Worker polls them). */
async function lapsesWithin(running: WorkerCore, ms: number, until?: (ids: string[]) => boolean): Promise<string[]> {
  const ids: string[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    expect(running.takeAborted(), 'a lapse is not an abort').toEqual([]);
    ids.push(...running.takeLapsed());
    if (until?.(ids) === true) break;
    await sleep(50);
  }
  return ids;
}

for (const name of bindingsUnderTest()) {
  describe(name, () => {
    const binding = (): Promise<BindingModule> => loadBinding(name, { allowFallback: false });

    async function start(tasks: number, mode: 'Hybrid' | 'PollingOnly'): Promise<WorkerCore> {
      db = await createTestDatabase();
      await registerTemplate(db.pool, single(NS));
      for (let i = 0; i < tasks; i += 1) await createTask(db.pool, { namespace: NS, name: 'single' });
      proxy = await DbProxy.start(db.url);
      const created = await (await binding()).createWorkerCore({
        databaseUrl: proxy.url(db.url),
        workerId: `${name}-lapse`,
        namespaces: [NS],
        mode,
        leaseSeconds: LEASE_SECONDS,
      });
      core = created;
      return created;
    }

    it('a running step whose heartbeats go unanswered is named by takeLapsed() when its lease lapses', { timeout: 40_000 }, async () => {
      const running = await start(1, 'Hybrid');
      const [step] = await running.next(1, 10_000);
      expect(step).toBeDefined();
      const handedAt = performance.now();
      proxy!.freeze();
      const ids = await lapsesWithin(running, 8_000, (seen) => seen.includes(step!.stepId));
      const after = performance.now() - handedAt;
      expect(ids, 'the handler of a lapsed lease is told to stop').toEqual([step!.stepId]);
      // The lease counts from the claim's sending, before the step was handed out.
      expect(after).toBeLessThan(LEASE_SECONDS * 1000 + 1_000);
    });

    it('a step running past its lease while heartbeats get through does not lapse', { timeout: 40_000 }, async () => {
      const running = await start(1, 'Hybrid');
      const [step] = await running.next(1, 10_000);
      expect(step).toBeDefined();
      expect(await lapsesWithin(running, LEASE_SECONDS * 1000 * 2)).toEqual([]);
      expect((await running.report({ stepId: step!.stepId, attempt: step!.attempt, delivery: step!.delivery, outcome: 'success', result: null })).accepted).toBe(true);
    });

    it('a buffered step whose lease lapsed is never handed out', { timeout: 40_000 }, async () => {
      const running = await start(3, 'PollingOnly');
      await waitFor('3 steps buffered', () => running.stats().buffered === 3);
      proxy!.freeze();
      await sleep(LEASE_SECONDS * 1000 + 300);
      expect(await running.next(10, 0)).toEqual([]);
      expect(running.stats().buffered).toBe(0);
    });
  });
}
