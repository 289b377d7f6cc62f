/**
 * Minor findings in template parsing and context validation (sdk/src/template).
 */
import { describe, expect, it } from 'vitest';
import { parseTemplate, validateContext } from '../../sdk/src/template/index.ts';

describe('static inputs', () => {
  it('an input key named __proto__ is kept (or refused), not silently dropped', () => {
    const text =
      'namespace: review_minor\nname: proto\nversion: "1.0.0"\nsteps:\n  - name: a\n    handler: h.a\n    inputs: { __proto__: { admin: true }, x: 1 }\n';
    const inputs = parseTemplate(text, 'templates/proto.yaml').steps[0]?.inputs;
    expect(Object.keys(inputs ?? {})).toEqual(['__proto__', 'x']);
  });
});

describe('format: date', () => {
  it('accepts a real date in the years 0000-0099 (RFC 3339 full-date)', () => {
    expect(() =>
      validateContext({ type: 'object', properties: { d: { type: 'string', format: 'date' } } }, { d: '0099-01-01' }, 'review/date@1.0.0'),
    ).not.toThrow();
  });
});
