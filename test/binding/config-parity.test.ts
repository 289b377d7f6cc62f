/**
 * The native adapters check a config "with the pg binding's rules, so a bad setting raises the
 * same InvalidWorkerCoreConfigError (naming the field) whichever binding runs" (ffi/core.ts
 * createFfiWorkerCore; napi.ts createWorkerCore). The Rust core's upper bounds were missing from
 * resolveCoreConfig (pg/config.ts): pg ran with configs napi and ffi refused, naming field
 * 'config'. Now every binding refuses them alike, naming the field.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { WorkerCoreConfig } from '../../sdk/src/binding/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

for (const name of ['pg', 'napi', 'ffi'] as const) {
  describe(name, () => {
    it('refuses what every binding refuses, naming the field (heartbeatMs above one day, poolSize 20000)', { timeout: 60_000 }, async () => {
      db = await createTestDatabase();
      const binding = await loadBinding(name, { allowFallback: false });
      const outcomes: Record<string, string> = {};
      const extras: Record<string, Partial<WorkerCoreConfig>> = {
        heartbeatMs: { heartbeatMs: 100_000_000 },
        poolSize: { poolSize: 20_000 },
      };
      for (const [label, extra] of Object.entries(extras)) {
        outcomes[label] = await binding
          .createWorkerCore({ databaseUrl: db.url, workerId: `${name}-cfg`, namespaces: ['rev_cfg_ns'], mode: 'PollingOnly', ...extra })
          .then(
            async (core) => {
              await core.drain(0);
              return 'created';
            },
            (error: unknown) => `${(error as Error).name} field=${(error as { field?: string }).field}`,
          );
      }
      expect(outcomes).toEqual({
        heartbeatMs: 'InvalidWorkerCoreConfigError field=heartbeatMs',
        poolSize: 'InvalidWorkerCoreConfigError field=poolSize',
      });
    });
  });
}
