/**
 * Which bindings the binding tests run: TASKER_TEST_BINDINGS, a comma-separated list of
 * napi, ffi, pg (default all three). A listed binding that cannot be loaded fails its tests; it is
 * never skipped.
 */
import process from 'node:process';
import { BINDING_NAMES } from '../../sdk/src/binding/select.ts';
import type { BindingName } from '../../sdk/src/binding/types.ts';

export const DEFAULT_TEST_BINDINGS = 'pg,napi,ffi';

/** The bindings named by TASKER_TEST_BINDINGS; throws on an unknown name (a typo must not shrink the suite). */
export function bindingsUnderTest(value: string | undefined = process.env.TASKER_TEST_BINDINGS): BindingName[] {
  const names = (value === undefined || value.trim() === '' ? DEFAULT_TEST_BINDINGS : value)
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (!(BINDING_NAMES as readonly string[]).includes(name)) {
      throw new Error(`TASKER_TEST_BINDINGS names ${JSON.stringify(name)}; expected a comma-separated list of ${BINDING_NAMES.join(', ')}`);
    }
  }
  return [...new Set(names)] as BindingName[];
}
