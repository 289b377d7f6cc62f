/**
 * Redaction and log-safe conversion for step logs. Handlers log whatever they have at hand —
 * configs, request options, caught errors — so secrets must be removed where the record is made,
 * not left to each writer. A log call must also never throw, whatever it is given (BigInt,
 * circular objects, getters that throw), so values are converted to plain JSON here.
 */

/** What replaces a redacted value. */
export const REDACTED = '[REDACTED]';

// Keys are compared lowercased with everything but letters and digits removed, so
// `databaseUrl`, `DATABASE_URL` and `database-url` are one key.
const SECRET_KEY_PARTS = [
  'password',
  'passwd',
  'secret',
  'token',
  'authorization',
  'apikey',
  'databaseurl',
  'connectionstring',
  'credential',
  'privatekey',
  'cookie',
];
const SECRET_KEYS = new Set(['auth', 'pass', 'pwd']);

const MAX_DEPTH = 8;
const MAX_ITEMS = 100;
const MAX_STRING = 10_000;

/** True for keys whose values are treated as secrets (password, token, secret, authorization, database_url...). */
export function isSecretKey(key: string): boolean {
  const normal = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_KEYS.has(normal) || SECRET_KEY_PARTS.some((part) => normal.includes(part));
}

/**
 * Removes passwords from text: the password of any `scheme://user:password@host` URL (postgres
 * URLs above all), `password=...` in keyword/value connection strings, and bearer tokens.
 */
export function redactText(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@\s/]*@/gi, `$1${REDACTED}@`)
    .replace(/\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s;&]+)/gi, `$1${REDACTED}`)
    .replace(/\b(bearer\s+)[A-Za-z0-9._~+/-]+=*/gi, `$1${REDACTED}`);
}

/**
 * Converts log fields to plain JSON with secrets redacted: values under secret-looking keys
 * (except numbers and booleans, which are counts and flags, not secrets), passwords in strings,
 * Errors as `{ name, message, code?, stack? }`. Never throws.
 */
export function toLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of safeEntries(fields)) {
    if (value === undefined) continue;
    out[key] = isSecretKey(key) && !isHarmless(value) ? REDACTED : toLogValue(value, 0, new Set());
  }
  return out;
}

function isHarmless(value: unknown): boolean {
  return value === null || typeof value === 'number' || typeof value === 'boolean';
}

function toLogValue(value: unknown, depth: number, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'string': {
      // Redacted before it is cut: a URL cut before its '@' would no longer be seen as one.
      const redacted = redactText(value);
      return redacted.length > MAX_STRING ? `${redacted.slice(0, MAX_STRING)}… (${value.length} chars)` : redacted;
    }
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return null;
    case 'symbol':
      return value.toString();
    case 'function':
      return `[function ${value.name || 'anonymous'}]`;
  }
  if (value === null) return null;
  const object = value as object;
  if (seen.has(object)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  seen.add(object);
  try {
    if (object instanceof Error) return errorFields(object, depth, seen);
    if (object instanceof Date) return Number.isNaN(object.getTime()) ? 'Invalid Date' : object.toISOString();
    if (object instanceof Map) return mapFields(object, depth, seen);
    if (object instanceof Set) return toLogValue([...object], depth, seen);
    if (Array.isArray(object)) {
      const items = object.slice(0, MAX_ITEMS).map((item: unknown) => toLogValue(item, depth + 1, seen));
      if (object.length > MAX_ITEMS) items.push(`… ${object.length - MAX_ITEMS} more`);
      return items;
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of safeEntries(object)) {
      if (item === undefined) continue;
      out[key] = isSecretKey(key) && !isHarmless(item) ? REDACTED : toLogValue(item, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(object);
  }
}

function errorFields(error: Error, depth: number, seen: Set<object>): Record<string, unknown> {
  const out: Record<string, unknown> = { name: safeString(() => error.name), message: redactText(safeString(() => error.message)) };
  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out['code'] = code;
  if (typeof error.stack === 'string') out['stack'] = redactText(error.stack);
  if (error.cause !== undefined) out['cause'] = toLogValue(error.cause, depth + 1, seen);
  return out;
}

function mapFields(map: Map<unknown, unknown>, depth: number, seen: Set<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of map) {
    const name = String(key);
    out[name] = isSecretKey(name) && !isHarmless(item) ? REDACTED : toLogValue(item, depth + 1, seen);
  }
  return out;
}

// Getters can throw; a log line must not.
function safeEntries(object: object): Array<[string, unknown]> {
  const entries: Array<[string, unknown]> = [];
  let keys: string[];
  try {
    keys = Object.keys(object);
  } catch {
    return entries;
  }
  for (const key of keys.slice(0, MAX_ITEMS)) {
    try {
      entries.push([key, (object as Record<string, unknown>)[key]]);
    } catch (error) {
      entries.push([key, `[getter threw: ${error instanceof Error ? error.message : String(error)}]`]);
    }
  }
  if (keys.length > MAX_ITEMS) entries.push(['…', `${keys.length - MAX_ITEMS} more keys not logged`]);
  return entries;
}

function safeString(read: () => unknown): string {
  try {
    return String(read());
  } catch {
    return '[unreadable]';
  }
}
