/**
 * Every report promise settles once drain has returned, even when the database went silent with
 * a round trip under way (it would hold until the pool's query timeout, a minute or more) and
 * another report queued behind it: the native core aborted its reporter inside the round trip and
 * never answered the queued report; the pg core left the round trip's reports pending.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bindingsUnderTest } from './bindings-under-test.ts';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { WorkerCore } from '../../sdk/src/binding/types.ts';
import type { ReportResult } from '../../sdk/src/protocol/types.ts';
import { createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { DbProxy } from '../support/db-proxy.ts';
import { single } from '../support/templates.ts';
import { bounded, sleep, success, waitFor } from './helpers.ts';

const NS = 'report_close_ns';
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
    it('a report in a round trip stuck on a silent database, and one queued behind it, settle once drain returns', { timeout: 60_000 }, async () => {
      db = await createTestDatabase();
      await registerTemplate(db.pool, single(NS));
      for (let i = 0; i < 2; i += 1) await createTask(db.pool, { namespace: NS, name: 'single' });
      proxy = await DbProxy.start(db.url);
      const binding = await loadBinding(name, { allowFallback: false });
      const running = await binding.createWorkerCore({ databaseUrl: proxy.url(db.url), workerId: `${name}-stuck`, namespaces: [NS], mode: 'PollingOnly' });
      core = running;
      await waitFor('2 steps buffered', () => running.stats().buffered === 2);
      const [a, b] = await running.next(2, 5_000);
      proxy.freeze();
      const outcome = (p: Promise<ReportResult>): Promise<string> =>
        p.then(
          (result) => `resolved accepted=${result.accepted}`,
          (error: unknown) => `rejected ${error instanceof Error ? error.name : String(error)}`,
        );
      // A's round trip goes out and hangs; B arrives in a later turn and queues behind it.
      const first = outcome(running.report(success(a!)));
      await sleep(300);
      const second = outcome(running.report(success(b!)));
      await sleep(300);
      const drained = await bounded('drain(500)', running.drain(500), 15_000);
      const settled = await Promise.race([Promise.all([first, second]), sleep(5_000).then(() => 'still pending 5 s after drain returned')]);
      expect(settled, `drain answered ${JSON.stringify(drained)}`).toEqual(['rejected WorkerCoreClosedError', 'rejected WorkerCoreClosedError']);
    });
  });
}
