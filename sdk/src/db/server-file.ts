import { randomBytes } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { EmbeddedPostgresStateError } from '../errors.ts';
import { buildDatabaseUrl } from './database-url.ts';

/** Contents of `server.json`: how to reach the embedded server. */
export interface ServerFile {
  user: string;
  password: string;
  host: string;
  port: number;
  /** Database the URL points at. */
  database: string;
  /** Version of the binaries that initialised the cluster, e.g. `18.4`. */
  pgVersion: string;
  createdAt: string;
}

/** The superuser every embedded cluster is initialised with. */
export const EMBEDDED_USER = 'tasker';

/** Fresh credentials for a new cluster; the password is URL-safe so URLs need no escaping. */
export function newServerFile(port: number, pgVersion: string): ServerFile {
  return {
    user: EMBEDDED_USER,
    password: randomBytes(24).toString('base64url'),
    host: '127.0.0.1',
    port,
    database: 'postgres',
    pgVersion,
    createdAt: new Date().toISOString(),
  };
}

/** Reads `server.json`; undefined when absent, a typed error when unreadable or malformed. */
export async function readServerFile(path: string): Promise<ServerFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EmbeddedPostgresStateError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new EmbeddedPostgresStateError(`${path} is not valid JSON; remove its directory to start over`);
  }
  if (!isServerFile(parsed)) {
    throw new EmbeddedPostgresStateError(`${path} lacks required fields; remove its directory to start over`);
  }
  return parsed;
}

/** Writes `server.json` atomically with mode 0600: it holds the superuser password. */
export async function writeServerFile(path: string, server: ServerFile): Promise<void> {
  const partial = `${path}.${process.pid}.partial`;
  await writeFile(partial, `${JSON.stringify(server, null, 2)}\n`, { mode: 0o600 });
  await chmod(partial, 0o600);
  await rename(partial, path);
}

/** The full connection URL, password included: hand it to drivers, never to logs. */
export function serverUrl(server: ServerFile, port: number = server.port): string {
  return buildDatabaseUrl({
    protocol: 'postgres:',
    user: server.user,
    password: server.password,
    host: server.host,
    port: String(port),
    database: server.database,
    params: new URLSearchParams(),
  });
}

function isServerFile(value: unknown): value is ServerFile {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.user === 'string' &&
    typeof record.password === 'string' &&
    typeof record.host === 'string' &&
    typeof record.port === 'number' &&
    typeof record.database === 'string' &&
    typeof record.pgVersion === 'string'
  );
}
