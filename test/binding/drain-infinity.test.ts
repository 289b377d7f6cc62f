/**
 * drain(Infinity): "waits up to `timeoutMs` for in-flight steps to be reported" (types.ts,
 * WorkerCore.drain; docs/bindings.md "Draining"). napi waits (napi.ts clamps Infinity to u32 max);
 * the ffi adapter turns any non-finite timeout into 0 (ffi/core.ts drain()), so drain(Infinity)
 * abandons every in-flight step at once and a report arriving 300 ms later is refused.
 * (The pg reference, pg/core.ts drain(), does the same as ffi: the bindings disagree.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { WorkerCore } from '../../sdk/src/binding/types.ts';
import { createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { single } from '../support/templates.ts';
import { bounded, sleep, success, waitFor } from '../binding/helpers.ts';

const NS = 'rev_inf_ns';
let db: TestDatabase | undefined;
let core: WorkerCore | undefined;

afterEach(async () => {
  if (core !== undefined) await core.drain(0).catch(() => {});
  await db?.drop();
  db = core = undefined;
});

for (const name of ['pg', 'napi', 'ffi'] as const) {
  describe(name, () => {
    it('drain(Infinity) waits for the in-flight step to be reported', { timeout: 60_000 }, async () => {
      db = await createTestDatabase();
      await registerTemplate(db.pool, single(NS));
      await createTask(db.pool, { namespace: NS, name: 'single' });
      const binding = await loadBinding(name, { allowFallback: false });
      const running = await binding.createWorkerCore({ databaseUrl: db.url, workerId: `${name}-inf`, namespaces: [NS], mode: 'PollingOnly' });
      core = running;
      await waitFor('1 step buffered', () => running.stats().buffered === 1);
      const [step] = await running.next(1, 5_000);
      const draining = running.drain(Number.POSITIVE_INFINITY);
      await sleep(300);
      const reported = running.report(success(step!)).then(
        (result) => `accepted=${result.accepted}`,
        (error: unknown) => `rejected ${error instanceof Error ? error.name : String(error)}`,
      );
      const drained = await bounded('drain(Infinity)', draining, 15_000);
      expect({ drained, reported: await reported }).toEqual({ drained: { abandoned: 0, released: 0 }, reported: 'accepted=true' });
    });
  });
}
