import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PgmqScriptError } from '../errors.ts';
import { sha256Hex } from './sha256.ts';

/** `migrations/pgmq/source.json`: where the pinned PGMQ install script comes from. */
export interface PgmqSource {
  crate: string;
  crate_version: string;
  crate_sha256: string;
  pgmq_version: string;
  path_in_crate: string;
  sql_sha256: string;
}

/** The verified SQL-only install script. */
export interface PgmqInstallScript {
  source: PgmqSource;
  path: string;
  sql: string;
}

/** How to obtain the script, for error messages. */
export const PGMQ_FETCH_HINT = 'run `npm run pgmq:fetch` (or `node scripts/fetch-pgmq.mjs`)';

/** Reads `source.json` from the PGMQ directory. */
export async function readPgmqSource(pgmqDir: string): Promise<PgmqSource> {
  const path = join(pgmqDir, 'source.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new PgmqScriptError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  const fields = ['crate', 'crate_version', 'crate_sha256', 'pgmq_version', 'path_in_crate', 'sql_sha256'] as const;
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  for (const field of fields) {
    if (typeof record[field] !== 'string') throw new PgmqScriptError(`${path} lacks the string field "${field}"`);
  }
  return record as unknown as PgmqSource;
}

/**
 * Loads `pgmq-<version>.sql` and checks it against the sha256 pinned in source.json, so a
 * truncated download or a hand edit is never executed against a database.
 */
export async function loadPgmqInstallScript(pgmqDir: string): Promise<PgmqInstallScript> {
  const source = await readPgmqSource(pgmqDir);
  const path = join(pgmqDir, `pgmq-${source.pgmq_version}.sql`);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new PgmqScriptError(`PGMQ install script ${path} is missing: ${PGMQ_FETCH_HINT}`, { cause: error });
  }
  const actual = sha256Hex(bytes);
  if (actual !== source.sql_sha256) {
    throw new PgmqScriptError(
      `PGMQ install script ${path} has sha256 ${actual}, but source.json pins ${source.sql_sha256}: delete it and ${PGMQ_FETCH_HINT}`,
    );
  }
  return { source, path, sql: bytes.toString('utf8') };
}
