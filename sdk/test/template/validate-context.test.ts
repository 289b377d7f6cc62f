import { describe, expect, it } from 'vitest';
import { InvalidContextError, InvalidInputSchemaError, validateContext } from '../../src/template/index.ts';
import { compileSchema } from '../../src/template/schema-compiler.ts';
import type { JsonObject } from '../../src/protocol/index.ts';

const LABEL = 'shop/order@1.0.0';

const orderSchema: JsonObject = {
  type: 'object',
  required: ['orderId', 'customer', 'items'],
  additionalProperties: false,
  properties: {
    orderId: { type: 'integer' },
    customer: { type: 'object', required: ['email'], properties: { email: { type: 'string', format: 'email' } } },
    items: { type: 'array', minItems: 1, items: { type: 'object', properties: { quantity: { type: 'integer', minimum: 1 } } } },
  },
};

function violations(schema: JsonObject | boolean, context: JsonObject): InvalidContextError {
  try {
    validateContext(schema, context, LABEL);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidContextError);
    return error as InvalidContextError;
  }
  throw new Error('expected InvalidContextError');
}

describe('validateContext', () => {
  it('accepts a context that matches', () => {
    expect(() => validateContext(orderSchema, { orderId: 7, customer: { email: 'a@b.co' }, items: [{ quantity: 1 }] }, LABEL)).not.toThrow();
  });

  it('lists every violation with its JSON pointer', () => {
    const error = violations(orderSchema, {
      orderId: 'seven',
      customer: { email: 'not-an-email' },
      items: [{ quantity: 1 }, { quantity: 0 }],
      coupon: 'X',
    });
    expect(error.template).toBe(LABEL);
    expect(error.errors).toEqual(
      expect.arrayContaining([
        { path: '/orderId', message: 'must be integer' },
        { path: '/customer/email', message: 'must match format "email"' },
        { path: '/items/1/quantity', message: 'must be >= 1' },
        { path: '/coupon', message: 'is not an allowed property' },
      ]),
    );
    expect(error.errors).toHaveLength(4);
    expect(error.message).toMatch(/^the context does not match the input_schema of shop\/order@1\.0\.0: /);
    expect(error.message).toContain('/items/1/quantity must be >= 1');
  });

  it('points a missing property at the property itself', () => {
    const error = violations(orderSchema, { orderId: 1, items: [{}] });
    expect(error.errors).toEqual([{ path: '/customer', message: 'is required' }]);
  });

  it('escapes pointer segments', () => {
    const error = violations({ type: 'object', required: ['a/b~c'] }, {});
    expect(error.errors).toEqual([{ path: '/a~1b~0c', message: 'is required' }]);
  });

  it('accepts everything without a schema, and nothing with `false`', () => {
    for (const schema of [undefined, null, true] as const) expect(() => validateContext(schema, { any: 1 }, LABEL)).not.toThrow();
    expect(violations(false, {}).errors).toEqual([{ path: '', message: 'is rejected: the input_schema is false, which accepts no context' }]);
  });

  it('throws InvalidInputSchemaError for a schema that does not compile', () => {
    expect(() => validateContext({ type: 'strnig' }, {}, LABEL)).toThrow(InvalidInputSchemaError);
    expect(() => validateContext({ $ref: '#/definitions/missing' }, {}, LABEL)).toThrow(/the input_schema of shop\/order@1\.0\.0 is not a valid JSON Schema: .*missing/);
  });

  it('compiles a schema once: equal schemas share one compilation', () => {
    const first = compileSchema({ type: 'object', properties: { n: { type: 'number' } } });
    const again = compileSchema({ type: 'object', properties: { n: { type: 'number' } } });
    expect(again).toBe(first);
    expect(compileSchema({ type: 'object' })).not.toBe(first);
  });

  it('lets two templates use the same $id with different schemas', () => {
    validateContext({ $id: 'order', type: 'object', required: ['a'] }, { a: 1 }, 'v1');
    expect(violations({ $id: 'order', type: 'object', required: ['b'] }, { a: 1 }).errors).toEqual([{ path: '/b', message: 'is required' }]);
  });

  it('supports draft 2020-12 and 2019-09 when $schema says so', () => {
    const tuple: JsonObject = { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { p: { prefixItems: [{ type: 'number' }], items: false } } };
    expect(() => validateContext(tuple, { p: [1] }, LABEL)).not.toThrow();
    expect(violations(tuple, { p: [1, 2] }).errors[0]?.path).toBe('/p');
    const draft2019: JsonObject = { $schema: 'https://json-schema.org/draft/2019-09/schema', type: 'object', dependentRequired: { a: ['b'] } };
    expect(violations(draft2019, { a: 1 }).errors[0]?.message).toMatch(/must have property b/);
    expect(() => validateContext({ $schema: 'http://json-schema.org/draft-04/schema#' }, {}, LABEL)).toThrow(/draft-04.* is not supported/);
  });

  it.each([
    ['date', '2024-02-29', '2023-02-29'],
    ['date-time', '2024-01-01T10:00:00Z', '2024-01-01 10:00'],
    ['time', '10:00:00+02:00', '25:00:00'],
    ['uri', 'https://example.com/x', 'not a uri'],
    ['uuid', '123e4567-e89b-12d3-a456-426614174000', '123e4567'],
    ['ipv4', '192.168.0.1', '256.1.1.1'],
  ])('checks format %s', (format, good, bad) => {
    const schema: JsonObject = { type: 'object', properties: { v: { type: 'string', format } } };
    expect(() => validateContext(schema, { v: good }, LABEL)).not.toThrow();
    expect(violations(schema, { v: bad }).errors).toEqual([{ path: '/v', message: `must match format "${format}"` }]);
  });

  it('does not change the context (no defaults, no coercion)', () => {
    const context: JsonObject = { n: '5' };
    expect(() => validateContext({ type: 'object', properties: { n: { type: 'integer', default: 1 }, m: { default: 2 } } }, context, LABEL)).toThrow(InvalidContextError);
    expect(context).toEqual({ n: '5' });
  });
});
