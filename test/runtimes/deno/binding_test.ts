/**
 * The shared binding suite (test/binding/cases.ts) on Deno: one test per binding named in
 * TASKER_TEST_BINDINGS (default `pg,napi,ffi`) and per case. Run with
 * `deno test -A test/runtimes/deno/binding_test.ts` (the `_test.ts` name is Deno's pattern, not
 * vitest's `*.test.ts`). One PostgreSQL server and migrated template serve the whole run: the
 * first test prepares it, the last releases it. A binding that cannot be loaded fails its tests.
 *
 * Deno's own types are not visible to `tsc -p tsconfig.test.json` (Node types); deno-test.ts
 * declares the little of `Deno.test` used here.
 */
import { bindingCases } from '../../binding/cases.ts';
import { DEFAULT_CASE_TIMEOUT_MS, releaseSharedTestServer, runBindingCase, sharedTestServer } from '../../binding/harness.ts';
import { assertEveryEnvelopeFreed, bindingForTest, bindingsUnderTest } from '../bindings.ts';
import { register, within } from './deno-test.ts';

/** Starting the embedded server and migrating the template can take a while on a cold machine. */
const SETUP_TIMEOUT_MS = 180_000;

register('prepare the test server', () =>
  within(SETUP_TIMEOUT_MS, 'preparing the test server', async () => {
    await sharedTestServer();
  }),
);

for (const name of bindingsUnderTest()) {
  for (const caseDef of bindingCases) {
    const title = `${name} binding on deno > ${caseDef.name}`;
    register(title, () =>
      within(caseDef.timeoutMs ?? DEFAULT_CASE_TIMEOUT_MS, title, async () => {
        await runBindingCase(caseDef, await bindingForTest(name), 'deno');
      }),
    );
  }
  if (name === 'ffi') register('ffi binding on deno > every envelope the native library returned was freed', assertEveryEnvelopeFreed);
}

register('release the test server', () => within(SETUP_TIMEOUT_MS, 'releasing the test server', releaseSharedTestServer));
