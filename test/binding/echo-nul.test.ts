/**
 * BindingModule.echo "crosses the binding boundary and back with a string, doing nothing else"
 * (types.ts). pg and napi return any string unchanged; the C ABI passes the payload as a
 * NUL-terminated C string, so a payload with a U+0000 came back cut at it, silently. The ffi
 * binding now refuses such a payload with a typed error instead.
 */
import { describe, expect, it } from 'vitest';
import { InvalidWorkerCoreArgumentError } from '../../sdk/src/binding/errors.ts';
import { loadBinding } from '../../sdk/src/binding/select.ts';

const payload = 'before\u0000after';

for (const name of ['pg', 'napi'] as const) {
  describe(name, () => {
    it('echo returns a payload containing U+0000 unchanged', async () => {
      const binding = await loadBinding(name, { allowFallback: false });
      expect(await binding.echo(payload)).toBe(payload);
    });
  });
}

describe('ffi', () => {
  it('echo refuses a payload containing U+0000 rather than cut it short', async () => {
    const binding = await loadBinding('ffi', { allowFallback: false });
    await expect(binding.echo(payload)).rejects.toBeInstanceOf(InvalidWorkerCoreArgumentError);
    expect(await binding.echo('plain')).toBe('plain');
  });
});
