/**
 * What the Bun and Deno runners of the shared binding suite share besides test/binding/: loading
 * a binding so that one that cannot be loaded fails its tests (never skipped, never replaced by
 * `pg`), and the ffi loaders' leak check.
 */
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { BindingModule, BindingName } from '../../sdk/src/binding/types.ts';

export { bindingsUnderTest } from '../binding/bindings-under-test.ts';

const loaded = new Map<BindingName, Promise<BindingModule>>();

/**
 * Loads a binding for the suite: never falls back to `pg` (whatever TASKER_BINDING_FALLBACK says),
 * and checks that what loaded is the binding asked for. Rejects, so the test fails.
 */
export function bindingForTest(name: BindingName): Promise<BindingModule> {
  let binding = loaded.get(name);
  if (binding === undefined) {
    binding = loadBinding(name, { allowFallback: false }).then((module) => {
      if (module.name !== name) throw new Error(`asked for the ${name} binding, loaded ${module.name}`);
      return module;
    });
    loaded.set(name, binding);
  }
  return binding;
}

/**
 * After the ffi cases: checks that the loader freed every envelope the native library returned
 * (tasker_string_outstanding, a diagnostic of the library; a build without it is reported, not
 * failed). Throws, so the test fails, when some are left.
 */
export async function assertEveryEnvelopeFreed(): Promise<void> {
  const { taskerLibrary } = await import('../../sdk/src/binding/ffi/index.ts');
  const outstanding = taskerLibrary().outstandingStrings();
  if (outstanding === undefined) {
    console.log('[binding suite] the native library has no tasker_string_outstanding(): envelope leak check not possible');
    return;
  }
  if (outstanding !== 0) throw new Error(`${outstanding} envelope(s) returned by the native library were never freed`);
}
