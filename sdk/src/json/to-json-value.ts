/**
 * Strict conversion of arbitrary JavaScript values to JSON values. `JSON.stringify` is lenient in
 * ways that lose data silently (a Map becomes `{}`, NaN becomes `null`, a function disappears) or
 * throws without saying where (BigInt, circular references). Handler results and template inputs
 * end up in `jsonb` columns, so we reject anything that would not round-trip, and say where it is.
 */
import { TaskerError } from '../errors.ts';
import type { JsonObject, JsonValue } from '../protocol/types.ts';

/** A value JSON cannot represent faithfully, found at `path` (e.g. `result.items[3]`). */
export class NotJsonError extends TaskerError {
  constructor(
    /** Where the value was found, starting with the root name given to {@link toJsonValue}. */
    readonly path: string,
    /** What is wrong with it, e.g. `BigInt is not JSON`. */
    readonly problem: string,
  ) {
    super('NOT_JSON', `${path}: ${problem}`);
  }
}

// Nesting deeper than this is almost certainly a bug, and deep recursion would overflow the stack.
const MAX_DEPTH = 1000;

// PostgreSQL's jsonb cannot store U+0000, and rejects unpaired UTF-16 surrogates.
const NUL = /\u0000/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// The same patterns for replace() (a global regex keeps state between test() calls, so each use has its own).
const NUL_ALL = new RegExp(NUL.source, 'g');
const LONE_SURROGATE_ALL = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * `text` as PostgreSQL can store it: a NUL becomes the six characters `\u0000`, an unpaired
 * surrogate U+FFFD. For text that must be kept, not refused: an error message, which quotes
 * whatever the handler choked on (JSON.parse of binary data names the NUL it met).
 */
export function storableText(text: string): string {
  return NUL.test(text) || LONE_SURROGATE.test(text) ? text.replace(NUL_ALL, '\\u0000').replace(LONE_SURROGATE_ALL, '\uFFFD') : text;
}

/** A JSON value with every string and key made storable by {@link storableText}. */
export function storableJson(value: JsonValue): JsonValue {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) setOwn(out, storableText(key), storableJson(item));
    return out;
  }
  return value;
}

/**
 * Returns `value` as a plain JSON value, or throws {@link NotJsonError} naming the path of the
 * first thing that is not JSON: BigInt, functions, symbols, NaN/Infinity, circular references,
 * Map/Set and other non-plain objects without `toJSON`, `undefined` (or holes) inside arrays, and
 * strings PostgreSQL cannot store (NUL characters, unpaired surrogates). Objects with `toJSON`
 * (Date, Buffer, URL...) are converted the way `JSON.stringify` converts them; object properties
 * whose value is `undefined` are left out, as `JSON.stringify` does.
 *
 * @param root the name the path starts with, e.g. `result`
 */
export function toJsonValue(value: unknown, root = 'value'): JsonValue {
  if (value === undefined) throw new NotJsonError(root, 'undefined is not JSON');
  return convert(value, root, '', new Map(), 0, true);
}

// `ancestors` holds the objects on the path from the root to `value`, with their paths: meeting
// one again is a cycle, while an object shared by two branches is fine (JSON just repeats it).
function convert(
  value: unknown,
  path: string,
  key: string,
  ancestors: Map<object, string>,
  depth: number,
  allowToJson: boolean,
): JsonValue {
  switch (typeof value) {
    case 'string':
      checkString(value, path);
      return value;
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new NotJsonError(path, `${String(value)} is not JSON`);
      return value;
    case 'bigint':
      throw new NotJsonError(path, 'BigInt is not JSON (convert it to a string or a number)');
    case 'function':
      throw new NotJsonError(path, 'a function is not JSON');
    case 'symbol':
      throw new NotJsonError(path, 'a symbol is not JSON');
    case 'undefined':
      throw new NotJsonError(path, 'undefined is not JSON (use null)');
  }
  if (value === null) return null;
  const object = value as object;
  if (depth >= MAX_DEPTH) throw new NotJsonError(path, `is nested more than ${MAX_DEPTH} levels deep`);

  if (allowToJson && typeof (object as { toJSON?: unknown }).toJSON === 'function') {
    let converted: unknown;
    try {
      converted = (object as { toJSON(key: string): unknown }).toJSON(key);
    } catch (error) {
      throw new NotJsonError(path, `toJSON() threw: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (converted === undefined) throw new NotJsonError(path, 'toJSON() returned undefined');
    return convert(converted, path, key, ancestors, depth, false);
  }

  // Boxed primitives serialise as their primitive value.
  if (object instanceof Number || object instanceof String || object instanceof Boolean) {
    return convert(object.valueOf(), path, key, ancestors, depth, false);
  }

  const seenAt = ancestors.get(object);
  if (seenAt !== undefined) throw new NotJsonError(path, `circular reference to ${seenAt}`);

  if (Array.isArray(object)) {
    ancestors.set(object, path);
    const out: JsonValue[] = [];
    for (let i = 0; i < object.length; i++) {
      const itemPath = `${path}[${i}]`;
      if (!(i in object)) throw new NotJsonError(itemPath, 'an array hole is not JSON (use null)');
      const item: unknown = object[i];
      if (item === undefined) throw new NotJsonError(itemPath, 'undefined is not JSON (use null)');
      out.push(convert(item, itemPath, String(i), ancestors, depth + 1, true));
    }
    ancestors.delete(object);
    return out;
  }

  const proto: unknown = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    throw new NotJsonError(path, describeNonPlain(object));
  }
  ancestors.set(object, path);
  const out: JsonObject = {};
  for (const name of Object.keys(object)) {
    const propertyPath = `${path}${propertySegment(name)}`;
    const item: unknown = (object as Record<string, unknown>)[name];
    if (item === undefined) continue;
    checkString(name, propertyPath, 'key');
    setOwn(out, name, convert(item, propertyPath, name, ancestors, depth + 1, true));
  }
  ancestors.delete(object);
  return out;
}

function checkString(value: string, path: string, what = 'string'): void {
  if (NUL.test(value)) {
    throw new NotJsonError(path, `${what} contains a NUL character (\\u0000), which PostgreSQL cannot store`);
  }
  if (LONE_SURROGATE.test(value)) {
    throw new NotJsonError(path, `${what} contains an unpaired UTF-16 surrogate, which PostgreSQL cannot store`);
  }
}

function describeNonPlain(object: object): string {
  if (object instanceof Map) return 'a Map is not JSON (convert it, e.g. Object.fromEntries(map))';
  if (object instanceof Set) return 'a Set is not JSON (convert it, e.g. [...set])';
  if (object instanceof Promise) return 'a Promise is not JSON (did you forget an await?)';
  if (object instanceof Error) return `an Error (${object.name}: ${object.message}) is not JSON`;
  const name = (object.constructor as { name?: unknown } | undefined)?.name;
  const what = typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'an object with a custom prototype';
  return `${what} is not JSON (return a plain object, or give the class a toJSON() method)`;
}

/** `.name` for identifier-like keys, `["odd key"]` otherwise. */
export function propertySegment(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

// `out['__proto__'] = v` would set the object's prototype and lose the key; JSON.parse and
// PostgreSQL both keep it as a key like any other.
function setOwn(out: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
