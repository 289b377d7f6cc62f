/**
 * the ranges of docs/templates.md "Fields" at their edges, against checkTemplate (the
 * database's validate_template follows the same rules; test/template checks that agreement).
 */
import { expect, it } from 'vitest';
import { HandlerRegistry, StepHandler, checkTemplate } from '../../sdk/src/index.ts';

const template = (top: Record<string, unknown> = {}, step: Record<string, unknown> = {}) => ({
  namespace: 'ns', name: 'n', version: '1.0.0', steps: [{ name: 's', handler: 'h', ...step }], ...top,
});
const ok = (t: unknown): boolean => {
  try {
    checkTemplate(t as never, 'x.yaml');
    return true;
  } catch {
    return false;
  }
};

it.each([
  ['version parts of 6 digits', template({ version: '123456.0.0' }), true],
  ['version parts of 7 digits', template({ version: '1234567.0.0' }), false],
  ['namespace of 34 characters', template({ namespace: 'a'.repeat(34) }), true],
  ['namespace of 35 characters', template({ namespace: 'a'.repeat(35) }), false],
  ['name of 64 characters', template({ name: 'a'.repeat(64) }), true],
  ['name of 65 characters', template({ name: 'a'.repeat(65) }), false],
  ['handler of 128 characters', template({}, { handler: 'a'.repeat(128) }), true],
  ['handler of 129 characters', template({}, { handler: 'a'.repeat(129) }), false],
  ['timeout_ms 86400000', template({}, { timeout_ms: 86_400_000 }), true],
  ['timeout_ms 86400001', template({}, { timeout_ms: 86_400_001 }), false],
  ['timeout_ms 0', template({}, { timeout_ms: 0 }), false],
  ['backoff_ms 86400001', template({}, { retry: { backoff_ms: 86_400_001 } }), false],
  ['max_backoff_ms below backoff_ms', template({}, { retry: { backoff_ms: 500, max_backoff_ms: 100 } }), false],
  ['max_deliveries 1000', template({}, { max_deliveries: 1000 }), true],
  ['max_deliveries 1001', template({}, { max_deliveries: 1001 }), false],
  ['max_attempts 1001', template({}, { retry: { max_attempts: 1001 } }), false],
  ['no steps', template({ steps: [] }), false],
  ['retry: null (absent)', template({}, { retry: null }), true],
  ['retry.retryable: null', template({}, { retry: { retryable: null } }), false],
])('%s -> valid: %s', (_label, t, valid) => {
  expect(ok(t)).toBe(valid);
});

it('docs/handlers.md: a subclass does not inherit its parent\'s handlerName', () => {
  class Parent extends StepHandler {
    static override handlerName = 'a.parent';
    call() {
      return 1;
    }
  }
  class Child extends Parent {}
  const registry = new HandlerRegistry([Parent, Child]);
  expect(registry.names()).toEqual(expect.arrayContaining(['a.parent', 'Child']));
});
