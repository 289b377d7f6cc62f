/**
 * The shared binding suite (cases.ts) on Node under vitest, once per binding named by
 * TASKER_TEST_BINDINGS (default pg,napi,ffi). A binding that cannot be loaded fails every one of
 * its tests with the loader's error: nothing is skipped.
 */
import { describe, it } from 'vitest';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { BindingModule } from '../../sdk/src/binding/types.ts';
import { injectedTestServer } from '../support/database.ts';
import { bindingCases } from './cases.ts';
import { bindingsUnderTest } from './bindings-under-test.ts';
import { DEFAULT_CASE_TIMEOUT_MS, runBindingCase } from './harness.ts';

for (const name of bindingsUnderTest()) {
  describe(name, () => {
    let loading: Promise<BindingModule> | undefined;
    // No fallback: the binding named is the binding tested.
    const binding = (): Promise<BindingModule> => (loading ??= loadBinding(name, { allowFallback: false }));

    for (const caseDef of bindingCases) {
      it(caseDef.name, { timeout: caseDef.timeoutMs ?? DEFAULT_CASE_TIMEOUT_MS }, async () => {
        await runBindingCase(caseDef, await binding(), 'node', injectedTestServer());
      });
    }
  });
}
