/**
 * A report the database refuses (not a lost connection: here the result holds a "\u0000", which
 * jsonb cannot store) rejects report() and takes its step out of flight in every binding: its
 * lease is no longer extended, so it expires and the step is redelivered. The native core used to
 * keep the step in flight, its lease extended by every heartbeat, its task stuck.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bindingsUnderTest } from './bindings-under-test.ts';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { WorkerCore } from '../../sdk/src/binding/types.ts';
import { createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { single } from '../support/templates.ts';
import { bounded, sleep, stepRow, success } from './helpers.ts';

const NS = 'refused_report_ns';
let db: TestDatabase | undefined;
let core: WorkerCore | undefined;

afterEach(async () => {
  if (core !== undefined) await bounded('drain after the test', core.drain(0), 20_000).catch(() => {});
  await db?.drop();
  db = core = undefined;
});

for (const name of bindingsUnderTest()) {
  describe(name, () => {
    it('a report the database refuses takes its step out of flight, so its lease lapses and it is redelivered', { timeout: 40_000 }, async () => {
      db = await createTestDatabase();
      await registerTemplate(db.pool, single(NS));
      await createTask(db.pool, { namespace: NS, name: 'single' });
      const binding = await loadBinding(name, { allowFallback: false });
      core = await binding.createWorkerCore({ databaseUrl: db.url, workerId: `${name}-refused`, namespaces: [NS], mode: 'PollingOnly', leaseSeconds: 2 });
      const [step] = await core.next(1, 10_000);
      if (step === undefined) throw new Error('no step claimed');
      const refusal = await core.report(success(step, { note: 'a\u0000b' })).then(
        () => 'accepted',
        (error: unknown) => (error instanceof Error ? error.name : String(error)),
      );
      expect(refusal).toBe('InvalidProtocolArgumentError');
      // Past the 2 s lease: had the core kept extending it, the step would still be on its
      // first delivery. Redelivered, it is claimed again (here by this very core, which polls).
      await sleep(3_500);
      const row = await stepRow(db.pool, step.stepId);
      expect({ inFlight: core.stats().inFlight, state: row.state, deliveries: row.deliveries }, `stats ${JSON.stringify(core.stats())}`).toEqual({
        inFlight: 0,
        state: 'in_progress',
        deliveries: 2,
      });
    });
  });
}
