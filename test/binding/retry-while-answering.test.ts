/**
 * A retry claimed by a core's own claim loop while the report that scheduled it is still on its
 * way back (committed, answer not yet read) is a new run: it is buffered and handed out as
 * attempt 2, not adopted by the finished attempt's in-flight entry (which left the native core
 * holding attempt 2 leased for nobody, extending its lease for ever). The interleaving is forced
 * with a proxy that delays only report_and_claim's answer (test/support/db-proxy.ts, delayOnly).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bindingsUnderTest } from './bindings-under-test.ts';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { WorkerCore } from '../../sdk/src/binding/types.ts';
import { claimSteps, createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { DbProxy } from '../support/db-proxy.ts';
import { single } from '../support/templates.ts';
import { bounded, stepRow } from './helpers.ts';

const NS = 'retry_answer_ns';
let db: TestDatabase | undefined;
let proxy: DbProxy | undefined;
let core: WorkerCore | undefined;

afterEach(async () => {
  if (core !== undefined) await bounded('drain after the test', core.drain(0), 20_000).catch(() => {});
  await proxy?.destroy();
  await db?.drop();
  db = proxy = core = undefined;
});

for (const name of bindingsUnderTest()) {
  describe(name, () => {
    it('a retry claimed while its failure report is still answering is handed out as attempt 2', { timeout: 40_000 }, async () => {
      db = await createTestDatabase();
      await registerTemplate(db.pool, single(NS, { retry: { max_attempts: 3, backoff_ms: 300, max_backoff_ms: 300 } }));
      await createTask(db.pool, { namespace: NS, name: 'single' });
      proxy = await DbProxy.start(db.url);
      const binding = await loadBinding(name, { allowFallback: false });
      core = await binding.createWorkerCore({
        databaseUrl: proxy.url(db.url),
        workerId: `${name}-retry`,
        namespaces: [NS],
        mode: 'PollingOnly',
        pollIntervalMs: 50,
        leaseSeconds: 2,
      });
      const [first] = await core.next(1, 10_000);
      expect(first?.attempt).toBe(1);
      // The report commits at once; its answer reaches the core 2 s later. Meanwhile the retry
      // (visible after 300 ms) is claimed by the core's polling claim loop.
      proxy.delayOnly = 'waiting_for_retry'; // only in the failure report's answer, whatever the binding renders
      proxy.delayMs = 2_000;
      const failed = await core.report({
        stepId: first!.stepId,
        attempt: 1,
        delivery: first!.delivery,
        outcome: 'retryable_failure',
        error: { message: 'again' },
        retryAfterMs: 300,
      });
      proxy.delayMs = 0;
      expect(failed.accepted).toBe(true);
      const second = await core.next(1, 3_000);
      // By now a 2 s lease nobody extends would have expired: another worker could take it.
      const row = await stepRow(db.pool, first!.stepId);
      const other = await claimSteps(db.pool, { namespace: NS, batchSize: 10, leaseSeconds: 30, workerId: 'other' });
      const stats = core.stats();
      const diagnostics = `step row ${JSON.stringify(row)}; another worker claims ${other.claimed.length}; stats ${JSON.stringify(stats)}`;
      expect(second.map((s) => s.attempt), diagnostics).toEqual([2]);
    });
  });
}
