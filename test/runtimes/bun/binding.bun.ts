/**
 * The shared binding suite (test/binding/cases.ts) on Bun: one test per binding named in
 * TASKER_TEST_BINDINGS (default `pg,napi,ffi`) and per case. Run with
 * `bun test ./test/runtimes/bun/binding.bun.ts` (the file name keeps vitest, whose pattern is
 * `*.test.ts`, from picking it up; bun runs any file given as a path). One PostgreSQL server and
 * migrated template serve the whole run. A binding that cannot be loaded fails its tests.
 */
import { afterAll, beforeAll, describe, test } from 'bun:test';
import { bindingCases } from '../../binding/cases.ts';
import { DEFAULT_CASE_TIMEOUT_MS, releaseSharedTestServer, runBindingCase, sharedTestServer } from '../../binding/harness.ts';
import { assertEveryEnvelopeFreed, bindingForTest, bindingsUnderTest } from '../bindings.ts';

/** Starting the embedded server and migrating the template can take a while on a cold machine. */
const SETUP_TIMEOUT_MS = 180_000;

beforeAll(async () => {
  await sharedTestServer();
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await releaseSharedTestServer();
}, SETUP_TIMEOUT_MS);

for (const name of bindingsUnderTest()) {
  describe(`${name} binding on bun`, () => {
    for (const caseDef of bindingCases) {
      test(
        caseDef.name,
        async () => {
          await runBindingCase(caseDef, await bindingForTest(name), 'bun');
        },
        caseDef.timeoutMs ?? DEFAULT_CASE_TIMEOUT_MS,
      );
    }
    if (name === 'ffi') test('every envelope the native library returned was freed', assertEveryEnvelopeFreed);
  });
}
