import { describe, expect, it } from 'vitest';
import { NotJsonError, toJsonValue } from '../../src/json/to-json-value.ts';

function rejection(value: unknown): NotJsonError {
  try {
    toJsonValue(value, 'result');
  } catch (error) {
    expect(error).toBeInstanceOf(NotJsonError);
    return error as NotJsonError;
  }
  throw new Error('expected toJsonValue to reject');
}

describe('toJsonValue', () => {
  it('returns plain JSON values unchanged', () => {
    const value = { a: 1, b: 'x', c: [true, null, 2.5], d: { e: [] }, 'odd key': -0 };
    expect(toJsonValue(value, 'result')).toEqual(value);
  });

  it('converts objects with toJSON the way JSON.stringify does', () => {
    const date = new Date('2025-01-02T03:04:05.000Z');
    class Money {
      constructor(readonly cents: number) {}
      toJSON(): string {
        return `${this.cents / 100} EUR`;
      }
    }
    expect(toJsonValue({ at: date, price: new Money(1250), url: new URL('https://example.com/a') }, 'result')).toEqual({
      at: '2025-01-02T03:04:05.000Z',
      price: '12.5 EUR',
      url: 'https://example.com/a',
    });
  });

  it('leaves out object properties that are undefined, as JSON.stringify does', () => {
    expect(toJsonValue({ a: 1, b: undefined }, 'result')).toEqual({ a: 1 });
  });

  it('accepts the same object twice when it is not circular', () => {
    const shared = { n: 1 };
    expect(toJsonValue({ a: shared, b: [shared, shared] }, 'result')).toEqual({ a: { n: 1 }, b: [{ n: 1 }, { n: 1 }] });
  });

  it('unboxes boxed primitives and accepts null-prototype objects', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { k: new String('v') });
    expect(toJsonValue({ n: new Number(3), bare }, 'result')).toEqual({ n: 3, bare: { k: 'v' } });
  });

  it.each([
    ['BigInt', { items: [1, 2, 3, 10n] }, 'result.items[3]', /BigInt is not JSON/],
    ['a function', { f: () => 1 }, 'result.f', /function is not JSON/],
    ['a symbol', [Symbol('s')], 'result[0]', /symbol is not JSON/],
    ['NaN', { x: { y: Number.NaN } }, 'result.x.y', /NaN is not JSON/],
    ['Infinity', [Infinity], 'result[0]', /Infinity is not JSON/],
    ['a Map', { m: new Map([[1, 2]]) }, 'result.m', /Map is not JSON/],
    ['a Set', { s: new Set([1]) }, 'result.s', /Set is not JSON/],
    ['a class instance', { p: new (class Point { x = 1 })() }, 'result.p', /instance of Point is not JSON/],
    ['a Promise', { p: Promise.resolve(1) }, 'result.p', /forget an await/],
    ['an Error', { e: new TypeError('bad') }, 'result.e', /TypeError: bad/],
    ['undefined in an array', [1, undefined], 'result[1]', /undefined is not JSON/],
    ['an array hole', [1, , 3], 'result[1]', /hole/],
    ['a NUL character', { s: 'a\u0000b' }, 'result.s', /NUL/],
    ['a NUL character in a key', { 'a\u0000': 1 }, 'result["a\\u0000"]', /key contains a NUL/],
    ['an unpaired surrogate', { s: 'x\uD800y' }, 'result.s', /surrogate/],
    ['an odd key', { 'a b': 10n }, 'result["a b"]', /BigInt/],
  ])('rejects %s and names the path', (_what, value, path, problem) => {
    const error = rejection(value);
    expect(error.path).toBe(path);
    expect(error.message).toMatch(problem);
    expect(error.message.startsWith(`${path}: `)).toBe(true);
  });

  it('rejects a circular reference, naming both ends', () => {
    const node: Record<string, unknown> = { name: 'a', children: [] };
    (node['children'] as unknown[]).push({ parent: node });
    const error = rejection(node);
    expect(error.message).toBe('result.children[0].parent: circular reference to result');
  });

  it('rejects undefined at the root', () => {
    expect(rejection(undefined).message).toBe('result: undefined is not JSON');
  });

  it('reports a toJSON that throws', () => {
    const error = rejection({ v: { toJSON: () => { throw new Error('nope'); } } });
    expect(error.message).toBe('result.v: toJSON() threw: nope');
  });

  it('keeps a well-formed surrogate pair (emoji)', () => {
    expect(toJsonValue('ok 🎉', 'result')).toBe('ok 🎉');
  });
});

describe('storableText and storableJson', () => {
  it('mend what PostgreSQL cannot store, in strings and keys, and leave the rest as it is', async () => {
    const { storableJson, storableText } = await import('../../src/json/to-json-value.ts');
    expect(storableText('plain ✓ 😀')).toBe('plain ✓ 😀');
    expect(storableText('a\u0000b')).toBe('a\\u0000b');
    expect(storableText('x\uD83D')).toBe('x\uFFFD');
    expect(storableText('\uDE00y')).toBe('\uFFFDy');
    expect(storableJson({ 'k\u0000': ['v\u0000', 1, null, { deep: '\uD83D' }] })).toEqual({ 'k\\u0000': ['v\\u0000', 1, null, { deep: '\uFFFD' }] });
  });
});
