/**
 * Comparing traces. `differences` walks two JSON values and names every path where they differ;
 * `unmet` checks a partial expectation (every field it gives must be equal; arrays and scalars
 * compare whole). Paths read like `tasks.main.steps.join.result.sum`.
 */
import type { JsonValue } from '@tasker/sdk';
import { canonicalJson } from '../canonical-json.ts';

/** One field where two values disagree. */
export interface Difference {
  path: string;
  left: JsonValue | undefined;
  right: JsonValue | undefined;
}

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const part = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
  return path === '' ? part : `${path}.${part}`;
}

/** Every path where `left` and `right` differ (leaves and missing keys), at most `limit`. */
export function differences(left: JsonValue | undefined, right: JsonValue | undefined, limit = 50, path = ''): Difference[] {
  const found: Difference[] = [];
  const walk = (a: JsonValue | undefined, b: JsonValue | undefined, at: string): void => {
    if (found.length >= limit) return;
    if (isObject(a) && isObject(b)) {
      for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(a[key], b[key], join(at, key));
      return;
    }
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
      a.forEach((item, index) => walk(item, b[index], join(at, index)));
      return;
    }
    if ((a === undefined) !== (b === undefined) || canonicalJson(a) !== canonicalJson(b)) found.push({ path: at, left: a, right: b });
  };
  walk(left, right, path);
  return found;
}

/** Every field of `expected` that `actual` does not match (objects are matched key by key, partially). */
export function unmet(expected: JsonValue, actual: JsonValue | undefined, path = ''): Difference[] {
  if (isObject(expected)) {
    if (!isObject(actual)) return [{ path, left: expected, right: actual }];
    return Object.keys(expected).flatMap((key) => unmet(expected[key] as JsonValue, actual[key], join(path, key)));
  }
  return canonicalJson(expected) === canonicalJson(actual ?? null) && actual !== undefined ? [] : [{ path, left: expected, right: actual }];
}

/** A value for one line of a report: JSON, cut short. */
export function show(value: JsonValue | undefined, max = 160): string {
  if (value === undefined) return '(missing)';
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
