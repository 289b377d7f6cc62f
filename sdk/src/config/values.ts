/**
 * Checks one value against its key's spec. Files give typed TOML values (a number must be a
 * number); environment variables give strings, parsed here. Either way a bad value is a problem
 * naming the key, what it accepts, what it got and where from: never a silent default.
 */
import { parseDatabaseUrl } from '../db/database-url.ts';
import type { ConfigProblem } from './errors.ts';
import type { ConfigValue, KeySpec } from './schema.ts';
import { nearest } from './suggest.ts';

/** A checked value, or the problem with it. */
export type Checked = { ok: true; value: ConfigValue } | { ok: false; problem: ConfigProblem };

/** Checks a value read from a TOML file. */
export function checkFileValue(spec: KeySpec, raw: unknown, source: string): Checked {
  return check(spec, raw, source);
}

/** Parses and checks the string of an environment variable. */
export function checkEnvValue(spec: KeySpec, raw: string, source: string = spec.env): Checked {
  const text = raw.trim();
  switch (spec.type.kind) {
    case 'integer':
      return check(spec, /^-?\d+$/.test(text) ? Number(text) : raw, source);
    case 'boolean': {
      const lower = text.toLowerCase();
      return check(spec, lower === 'true' || lower === '1' ? true : lower === 'false' || lower === '0' ? false : raw, source);
    }
    case 'list':
      return check(
        spec,
        text.split(',').map((item) => item.trim()).filter((item) => item !== ''),
        source,
      );
    default:
      return check(spec, text, source);
  }
}

function check(spec: KeySpec, raw: unknown, source: string): Checked {
  const fail = (problem: string): Checked => ({ ok: false, problem: { key: spec.key, problem, source } });
  const got = `got ${describe(raw)}`;
  const type = spec.type;
  switch (type.kind) {
    case 'integer':
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < type.min || raw > type.max) {
        return fail(`must be a whole number from ${type.min} to ${type.max}, ${got}`);
      }
      return { ok: true, value: raw };
    case 'boolean':
      return typeof raw === 'boolean' ? { ok: true, value: raw } : fail(`must be true or false, ${got}`);
    case 'string':
      return typeof raw === 'string' && raw.trim() !== '' ? { ok: true, value: raw.trim() } : fail(`must be a non-empty string, ${got}`);
    case 'database-url':
      // Never quoted back: the value holds a password.
      if (typeof raw !== 'string' || raw.trim() === '') return fail('must be a PostgreSQL URL (postgres://user:password@host:port/database)');
      try {
        parseDatabaseUrl(raw.trim());
      } catch (error) {
        return fail(error instanceof Error ? error.message.replace(/^Invalid database URL: /, 'must be a PostgreSQL URL: ') : String(error));
      }
      return { ok: true, value: raw.trim() };
    case 'list':
      if (!Array.isArray(raw) || !raw.every((item): item is string => typeof item === 'string' && item.trim() !== '')) {
        return fail(`must be a list of non-empty strings (comma-separated in an environment variable), ${got}`);
      }
      return { ok: true, value: raw.map((item) => item.trim()) };
    case 'enum': {
      const text = typeof raw === 'string' ? raw : undefined;
      const match = text === undefined ? undefined : type.values.find((v) => v === text || (type.caseInsensitive === true && v === text.toLowerCase()));
      if (match !== undefined) return { ok: true, value: match };
      const guess = text === undefined ? undefined : nearest(text, type.values);
      return fail(
        `must be one of ${type.values.join(', ')}, ${got}` +
          (guess === undefined ? '' : `; did you mean ${guess}?`) +
          (type.hint === undefined ? '' : `; ${type.hint}`),
      );
    }
  }
}

function describe(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (Array.isArray(raw)) return `a list (${JSON.stringify(raw)})`;
  if (raw !== null && typeof raw === 'object') return raw instanceof Date ? `a date (${raw.toISOString()})` : 'a table';
  return String(raw);
}
