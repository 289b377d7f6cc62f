/**
 * A core created on a database without the tasker schema fails at once with the same typed error
 * on every binding (the native core always checked; the pg binding used to start and fail in its
 * claim loops for ever).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerCoreSchemaMissingError } from '../../sdk/src/binding/errors.ts';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

for (const name of ['pg', 'napi', 'ffi'] as const) {
  describe(name, () => {
    it('refuses to create a core on a database without the tasker schema, saying to migrate', async () => {
      db = await createTestDatabase({ template: false });
      const binding = await loadBinding(name, { allowFallback: false });
      const error = await binding
        .createWorkerCore({ databaseUrl: db.url, workerId: `${name}-schema`, namespaces: ['schema_ns'], mode: 'PollingOnly' })
        .then(
          async (core) => {
            await core.drain(0);
            return undefined;
          },
          (thrown: unknown) => thrown,
        );
      expect(error).toBeInstanceOf(WorkerCoreSchemaMissingError);
      expect((error as Error).message).toMatch(/run `tasker-ctl migrate`/);
    });
  });
}
