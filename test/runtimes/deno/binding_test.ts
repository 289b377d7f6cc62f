/**
 * The shared binding suite (test/binding/cases.ts) on Deno: one test per binding named in
 * TASKER_TEST_BINDINGS (default `pg,napi,ffi`) and per case. Run with
 * `deno test -A test/runtimes/deno/binding_test.ts` (the `_test.ts` name is Deno's pattern, not
 * vitest's `*.test.ts`). One PostgreSQL server and migrated template serve the whole run: the
 * first test prepares it, the last releases it. A binding that cannot be loaded fails its tests.
 *
 * Deno's own types are not visible to `tsc -p tsconfig.test.json` (Node types), so the little of
 * `Deno.test` used here is declared below.
 */
import { bindingCases } from '../../binding/cases.ts';
import { DEFAULT_CASE_TIMEOUT_MS, releaseSharedTestServer, runBindingCase, sharedTestServer } from '../../binding/harness.ts';
import { assertEveryEnvelopeFreed, bindingForTest, bindingsUnderTest } from '../bindings.ts';

/** The members of a `Deno.test` definition used here. */
interface DenoTestDefinition {
  name: string;
  fn: () => Promise<void>;
  /** Cores, pools and the embedded server keep timers and sockets across tests on purpose. */
  sanitizeOps?: boolean;
  sanitizeResources?: boolean;
}

const { Deno } = globalThis as unknown as { Deno: { test(definition: DenoTestDefinition): void } };

/** Starting the embedded server and migrating the template can take a while on a cold machine. */
const SETUP_TIMEOUT_MS = 180_000;

/** Deno.test has no timeout: fail the test when `body` has not settled after `ms`. */
async function within(ms: number, what: string, body: () => Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([body(), timeUp]);
  } finally {
    clearTimeout(timer);
  }
}

function register(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });
}

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
