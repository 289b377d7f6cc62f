/**
 * drain() of every binding against a database that misbehaves in ways a restart test cannot show
 * (test/support/db-proxy.ts): it goes silent (a network partition) while the core is connected or
 * holds buffered steps, and drain must still settle near its deadline instead of waiting on the
 * LISTEN connection's goodbye or a release_leases that never answers; and a claim under way when
 * a short drain begins (drain(0) after a failed Worker start) still has its steps given back,
 * not left leased to nobody until their leases expire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { BindingModule, WorkerCore } from '../../sdk/src/binding/types.ts';
import { claimSteps, createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { DbProxy } from '../support/db-proxy.ts';
import { single } from '../support/templates.ts';
import { bindingsUnderTest } from './bindings-under-test.ts';
import { bounded, sleep, waitFor } from './helpers.ts';

const NS = 'partition_ns';
let db: TestDatabase | undefined;
let proxy: DbProxy | undefined;
let core: WorkerCore | undefined;

afterEach(async () => {
  // Cut the partition so whatever still hangs on it ends, then clean up.
  await proxy?.destroy();
  if (core !== undefined) await bounded('drain after the test', core.drain(0), 20_000).catch(() => {});
  await db?.drop();
  db = proxy = core = undefined;
});

for (const name of bindingsUnderTest()) {
  describe(name, () => {
    const binding = (): Promise<BindingModule> => loadBinding(name, { allowFallback: false });

    it('Hybrid: drain(500) settles when the database goes silent', { timeout: 40_000 }, async () => {
      db = await createTestDatabase();
      proxy = await DbProxy.start(db.url);
      core = await (await binding()).createWorkerCore({ databaseUrl: proxy.url(db.url), workerId: `${name}-silent`, namespaces: [NS], mode: 'Hybrid' });
      await sleep(200);
      proxy.freeze();
      // 500 ms, plus the cores' grace for giving steps back and closing connections (2 s each).
      expect(await bounded('drain(500) of a core whose database went silent', core.drain(500), 8_000)).toEqual({ abandoned: 0, released: 0 });
    });

    it('PollingOnly: drain(500) with buffered steps settles when the database goes silent', { timeout: 40_000 }, async () => {
      db = await createTestDatabase();
      await registerTemplate(db.pool, single(NS));
      for (let i = 0; i < 3; i += 1) await createTask(db.pool, { namespace: NS, name: 'single' });
      proxy = await DbProxy.start(db.url);
      const running = await (await binding()).createWorkerCore({ databaseUrl: proxy.url(db.url), workerId: `${name}-buffered`, namespaces: [NS], mode: 'PollingOnly' });
      core = running;
      await waitFor('3 steps buffered', () => running.stats().buffered === 3);
      proxy.freeze();
      // Their release cannot get through: drain gives up on it and the leases will expire.
      await bounded('drain(500) of a core with 3 buffered steps whose database went silent', running.drain(500), 8_000);
    });

    it('drain(200) gives back the steps of a claim still under way when it began', { timeout: 30_000 }, async () => {
      db = await createTestDatabase();
      await registerTemplate(db.pool, single(NS));
      for (let i = 0; i < 5; i += 1) await createTask(db.pool, { namespace: NS, name: 'single' });
      proxy = await DbProxy.start(db.url);
      core = await (await binding()).createWorkerCore({
        databaseUrl: proxy.url(db.url),
        workerId: `${name}-claiming`,
        namespaces: [NS],
        mode: 'PollingOnly',
        leaseSeconds: 60,
      });
      // The first claim was sent as the core started; its answer now takes 600 ms to arrive.
      proxy.delayMs = 600;
      const drained = await bounded('drain(200)', core.drain(200), 10_000);
      const stats = core.stats();
      const other = await claimSteps(db.pool, { namespace: NS, batchSize: 10, leaseSeconds: 30, workerId: 'other' });
      // Given back, or never leased (a native core may cancel the claim instead): either way
      // another worker finds all five at once, not after their 60 s leases.
      expect(other.claimed.length, `drain ${JSON.stringify(drained)}, core stats after it ${JSON.stringify(stats)}`).toBe(5);
    });
  });
}
