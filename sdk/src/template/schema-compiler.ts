/**
 * Compiles templates' input schemas with ajv, once per distinct schema. Each schema gets its own
 * ajv instance: two templates (or two versions of one) may use the same `$id`, which a shared
 * instance would refuse, and one template's `$ref`s must not resolve into another's.
 *
 * Drafts: 2020-12 and 2019-09 when `$schema` names them, draft-07 otherwise. Formats checked:
 * date-time, date, time, email, uri, uuid, ipv4; other formats are accepted without a check
 * (ajv-formats is not a dependency). Validation never changes the context (no defaults, no
 * coercion).
 */
import { Ajv, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { JsonObject } from '../protocol/types.ts';

/** A compiled input schema: returns the violations, or an empty list. */
export type SchemaCheck = (context: JsonObject) => ErrorList;

/** Violations as ajv reports them (before they are turned into ContextViolations). */
export type ErrorList = NonNullable<ValidateFunction['errors']>;

// Long-running services see a bounded number of templates; the bound only protects against a
// caller compiling unbounded distinct schemas.
const MAX_CACHED = 500;
const byString = new Map<string, SchemaCheck>();
const byObject = new WeakMap<object, SchemaCheck>();

/** The reason a schema did not compile (thrown by {@link compileSchema}). */
export class SchemaCompileError extends Error {}

/**
 * Compiles `schema` (or returns the cached compilation). Throws SchemaCompileError with ajv's
 * explanation when the schema is not a valid JSON Schema.
 */
export function compileSchema(schema: JsonObject | boolean): SchemaCheck {
  if (typeof schema === 'object') {
    const cached = byObject.get(schema);
    if (cached !== undefined) return cached;
  }
  const key = JSON.stringify(schema);
  let check = byString.get(key);
  if (check === undefined) {
    check = compile(schema);
    if (byString.size >= MAX_CACHED) {
      const oldest = byString.keys().next().value;
      if (oldest !== undefined) byString.delete(oldest);
    }
    byString.set(key, check);
  }
  if (typeof schema === 'object') byObject.set(schema, check);
  return check;
}

function compile(schema: JsonObject | boolean): SchemaCheck {
  if (typeof schema === 'object' && schema['$async'] === true) {
    throw new SchemaCompileError('$async schemas are not supported (task contexts are checked synchronously)');
  }
  let validate: ValidateFunction;
  try {
    validate = newAjv(schema).compile(schema);
  } catch (error) {
    throw new SchemaCompileError(error instanceof Error ? error.message : String(error));
  }
  return (context) => (validate(context) ? [] : [...(validate.errors ?? [])]);
}

function newAjv(schema: JsonObject | boolean): Ajv {
  const options: Options = { allErrors: true, strict: false, logger: false };
  const draft = typeof schema === 'object' && typeof schema['$schema'] === 'string' ? schema['$schema'] : '';
  let ajv: Ajv;
  if (draft.includes('2020-12')) ajv = new Ajv2020(options);
  else if (draft.includes('2019-09')) ajv = new Ajv2019(options);
  else if (draft.includes('draft-04') || draft.includes('draft-03')) {
    throw new SchemaCompileError(`$schema ${draft} is not supported; use draft-07, 2019-09 or 2020-12`);
  } else ajv = new Ajv(options);
  for (const [name, check] of Object.entries(FORMATS)) ajv.addFormat(name, check);
  return ajv;
}

const FORMATS: Record<string, (value: string) => boolean> = {
  date: (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && isRealDate(v),
  time: (v) => /^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)?$/.test(v),
  'date-time': (v) => {
    const match = /^(\d{4}-\d{2}-\d{2})[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/.exec(v);
    return match !== null && isRealDate(match[1] ?? '');
  },
  email: (v) => /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(v),
  uri: (v) => {
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(v)) return false;
    try {
      new URL(v);
      return true;
    } catch {
      return false;
    }
  },
  uuid: (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  ipv4: (v) => /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(v),
};

function isRealDate(text: string): boolean {
  const [y, m, d] = text.split('-').map(Number) as [number, number, number];
  // Date.UTC reads the years 0-99 as 1900-1999; setUTCFullYear takes them as they are.
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d);
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}
