import { InvalidDatabaseUrlError } from '../errors.ts';

/** The parts of a `postgres://` URL, percent-decoded. */
export interface DatabaseUrlParts {
  protocol: 'postgres:' | 'postgresql:';
  user: string;
  password: string;
  /** Host as written in the URL (IPv6 keeps its brackets); empty for socket defaults. */
  host: string;
  /** Port as written; empty when the URL leaves it to the default. */
  port: string;
  database: string;
  params: URLSearchParams;
}

/** Query parameters that carry secrets and must never be shown. */
const SECRET_PARAMS = new Set(['password', 'sslpassword']);
const REDACTED = '***';

/**
 * Parses a `postgres://` or `postgresql://` URL.
 * The error never repeats the URL, because it may contain a password.
 */
export function parseDatabaseUrl(url: string): DatabaseUrlParts {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidDatabaseUrlError('not a URL (expected postgres://user:password@host:port/database)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new InvalidDatabaseUrlError(`scheme must be postgres:// or postgresql://, not ${parsed.protocol}//`);
  }
  return {
    protocol: parsed.protocol,
    user: safeDecode(parsed.username),
    password: safeDecode(parsed.password),
    host: parsed.hostname,
    port: parsed.port,
    database: safeDecode(parsed.pathname.replace(/^\//, '')),
    params: parsed.searchParams,
  };
}

/** Builds a URL from parts, percent-encoding what needs it. */
export function buildDatabaseUrl(parts: DatabaseUrlParts): string {
  const auth =
    parts.user === ''
      ? ''
      : `${encodeURIComponent(parts.user)}${parts.password === '' ? '' : `:${encodeURIComponent(parts.password)}`}@`;
  const port = parts.port === '' ? '' : `:${parts.port}`;
  const query = parts.params.toString();
  return `${parts.protocol}//${auth}${parts.host}${port}/${encodeURIComponent(parts.database)}${query === '' ? '' : `?${query}`}`;
}

/**
 * Renders a database URL for logs and errors: `postgres://user:***@host:port/db`.
 * Anything unparseable is reduced to a placeholder rather than echoed, and a
 * keyword/value connection string has its password values masked.
 */
export function redactDatabaseUrl(url: string): string {
  let parts: DatabaseUrlParts;
  try {
    parts = parseDatabaseUrl(url);
  } catch {
    if (/^\s*[a-z_]+\s*=/i.test(url)) {
      return url.replace(/\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, `$1${REDACTED}`);
    }
    return '<unparseable database URL>';
  }
  const params = new URLSearchParams();
  for (const [key, value] of parts.params) {
    params.append(key, SECRET_PARAMS.has(key.toLowerCase()) ? REDACTED : value);
  }
  const auth = parts.user === '' ? '' : `${parts.user}${parts.password === '' ? '' : `:${REDACTED}`}@`;
  const port = parts.port === '' ? '' : `:${parts.port}`;
  // URLSearchParams would percent-encode the asterisks; keep them readable.
  const query = params.toString().replaceAll('%2A%2A%2A', REDACTED);
  return `${parts.protocol}//${auth}${parts.host}${port}/${parts.database}${query === '' ? '' : `?${query}`}`;
}

/** Returns the same URL pointing at another database on the same server. */
export function withDatabaseName(url: string, database: string): string {
  return buildDatabaseUrl({ ...parseDatabaseUrl(url), database });
}

/**
 * Masks the password of `url` wherever it occurs in `text`. Used on messages from
 * drivers and child processes, which we do not control.
 */
export function redactPasswordIn(text: string, url: string): string {
  let password: string;
  try {
    password = parseDatabaseUrl(url).password;
  } catch {
    return text;
  }
  if (password === '') return text;
  let result = text.replaceAll(url, redactDatabaseUrl(url)).replaceAll(password, REDACTED);
  const encoded = encodeURIComponent(password);
  if (encoded !== password) result = result.replaceAll(encoded, REDACTED);
  return result;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
