import { basename } from 'node:path';
import type pg from 'pg';
import { PgmqInstallError, PgmqNotInstalledError, PgmqScriptError } from '../errors.ts';
import { errorCode } from './describe-error.ts';
import { logLine, type LogSink } from './log.ts';
import { loadPgmqInstallScript, PGMQ_FETCH_HINT, type PgmqInstallScript } from './pgmq-source.ts';
import { defaultPgmqDir } from './repo-paths.ts';

/** How PGMQ is present in a database. */
export interface PgmqStatus {
  version: string;
  /** `extension`: CREATE EXTENSION; `sql`: the SQL-only script, tracked in pgmq.__pgmq_migrations. */
  method: 'extension' | 'sql';
  /** Where the version was read from, or where the install came from. */
  source: string;
  /** True when this call installed it. */
  installedNow: boolean;
}

/** Options of {@link ensurePgmq}. */
export interface EnsurePgmqOptions {
  /** False: only check, and throw when PGMQ is missing. Default true. */
  install?: boolean;
  /** Directory with source.json and the install script; default the repository's migrations/pgmq. */
  pgmqDir?: string;
}

/** A single connection; ensurePgmq runs a transaction on it. */
export type PgClient = pg.ClientBase;

/**
 * The pgmq crate's installer lock (`i64::MIN + 4149`). Sharing it means our installer and
 * the crate's never run the SQL-only install at the same time on one database.
 */
const PGMQ_INSTALL_LOCK_KEY = (-(2n ** 63n) + 4149n).toString();
/** The row the pgmq crate records for a fresh SQL-only install. */
const FRESH_INSTALL_NAME = 'pgmq.sql';

/** Returns the installed PGMQ version, or undefined when PGMQ is absent. */
export async function pgmqVersion(client: PgClient): Promise<string | undefined> {
  return (await detectPgmq(client))?.version;
}

/**
 * Finds PGMQ as an extension, or as a SQL-only install recorded in the pgmq crate's
 * `pgmq.__pgmq_migrations` table. A `pgmq` schema with queues but no such record is
 * refused: we could not tell its version, and installing over it would fail midway.
 */
export async function detectPgmq(client: PgClient): Promise<PgmqStatus | undefined> {
  const extension = await client.query<{ extversion: string }>(
    `SELECT extversion FROM pg_extension WHERE extname = 'pgmq'`,
  );
  const extversion = extension.rows[0]?.extversion;
  if (extversion !== undefined) return { version: extversion, method: 'extension', source: 'pg_extension', installedNow: false };

  const objects = await client.query<{ has_migrations: boolean; has_meta: boolean }>(
    `SELECT to_regclass('pgmq.__pgmq_migrations') IS NOT NULL AS has_migrations,
            to_regclass('pgmq.meta') IS NOT NULL AS has_meta`,
  );
  const { has_migrations: hasMigrations, has_meta: hasMeta } = objects.rows[0] ?? { has_migrations: false, has_meta: false };
  if (hasMigrations) {
    const applied = await client.query<{ version: string }>('SELECT version FROM pgmq.__pgmq_migrations');
    const version = applied.rows.map((row) => row.version).sort(compareVersions).at(-1);
    if (version !== undefined) return { version, method: 'sql', source: 'pgmq.__pgmq_migrations', installedNow: false };
  }
  if (hasMeta) {
    throw new PgmqInstallError(
      'Schema pgmq holds a PGMQ installation of unknown version (no pgmq extension, no pgmq.__pgmq_migrations rows). ' +
        'Record its version the way the pgmq crate does: CREATE TABLE IF NOT EXISTS pgmq.__pgmq_migrations ' +
        '(name TEXT PRIMARY KEY NOT NULL, version TEXT NOT NULL, run_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp()); ' +
        `INSERT INTO pgmq.__pgmq_migrations (name, version) VALUES ('${FRESH_INSTALL_NAME}', '<installed version>');`,
    );
  }
  return undefined;
}

/**
 * Makes sure PGMQ is installed: reports an existing extension or SQL-only install; else
 * creates the extension when the server offers it; else runs the pinned SQL-only script
 * in one transaction and records it like the pgmq crate does. With `install: false` it
 * only checks. Concurrent callers serialise on the crate's advisory lock and re-check
 * under it, so exactly one of them installs. The client must not be inside a transaction:
 * this function opens and commits its own.
 */
export async function ensurePgmq(client: PgClient, log: LogSink, options: EnsurePgmqOptions = {}): Promise<PgmqStatus> {
  const existing = await detectPgmq(client);
  if (existing !== undefined) return existing;
  const database = await currentDatabase(client);
  if (options.install === false) throw notInstalled(database, 'installing was not allowed (install: false)');

  const available = await client.query<{ default_version: string }>(
    `SELECT default_version FROM pg_available_extensions WHERE name = 'pgmq'`,
  );
  const extensionVersion = available.rows[0]?.default_version;
  let script: PgmqInstallScript | undefined;
  if (extensionVersion === undefined) {
    try {
      script = await loadPgmqInstallScript(options.pgmqDir ?? defaultPgmqDir());
    } catch (error) {
      if (error instanceof PgmqScriptError) throw notInstalled(database, error.message, error);
      throw error;
    }
  }

  const started = Date.now();
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [PGMQ_INSTALL_LOCK_KEY]);
    const installedMeanwhile = await detectPgmq(client);
    if (installedMeanwhile !== undefined) {
      await client.query('COMMIT');
      return installedMeanwhile;
    }
    let status: PgmqStatus;
    if (script === undefined) {
      logLine(log, 'INFO', `Installing PGMQ ${extensionVersion} with CREATE EXTENSION pgmq`);
      await client.query('CREATE EXTENSION IF NOT EXISTS pgmq');
      const version = (await pgmqVersion(client)) ?? String(extensionVersion);
      status = { version, method: 'extension', source: 'pg_available_extensions', installedNow: true };
    } else {
      const { source } = script;
      logLine(log, 'INFO', `Installing PGMQ ${source.pgmq_version} SQL-only from ${basename(script.path)} (crate ${source.crate} ${source.crate_version})`);
      await client.query('CREATE SCHEMA IF NOT EXISTS pgmq');
      await client.query(
        'CREATE TABLE IF NOT EXISTS pgmq.__pgmq_migrations ( name TEXT PRIMARY KEY NOT NULL, version TEXT NOT NULL, ' +
          'run_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp())',
      );
      // Simple-query protocol (no parameters) so the multi-statement script runs as is.
      await client.query(script.sql);
      await client.query('INSERT INTO pgmq.__pgmq_migrations (name, version) VALUES ($1, $2)', [
        FRESH_INSTALL_NAME,
        source.pgmq_version,
      ]);
      status = {
        version: source.pgmq_version,
        method: 'sql',
        source: `${basename(script.path)} from crate ${source.crate} ${source.crate_version}`,
        installedNow: true,
      };
    }
    await client.query('COMMIT');
    logLine(log, 'SUCCESS', `Installed PGMQ ${status.version} (${status.method}) in ${Date.now() - started} ms`);
    return status;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw installFailed(database, error);
  }
}

function notInstalled(database: string, reason: string, cause?: unknown): PgmqNotInstalledError {
  return new PgmqNotInstalledError(
    `PGMQ is not installed in database "${database}" and ${reason}. To fix: ` +
      `let Tasker install it SQL-only (\`tasker-ctl migrate\`; the script comes from ${PGMQ_FETCH_HINT}), ` +
      'or run `CREATE EXTENSION pgmq` on a server that has the extension, ' +
      'or ask an administrator to grant this role CREATE on the database.',
    cause === undefined ? undefined : { cause },
  );
}

function installFailed(database: string, error: unknown): Error {
  if (error instanceof PgmqInstallError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const hint =
    errorCode(error) === '42501'
      ? ' The role lacks privileges: GRANT CREATE ON DATABASE to it, install as the database owner or a superuser, ' +
        'or have an administrator run `CREATE EXTENSION pgmq` (or the SQL-only script).'
      : '';
  return new PgmqInstallError(`Installing PGMQ into database "${database}" failed: ${message}.${hint}`, { cause: error });
}

async function currentDatabase(client: PgClient): Promise<string> {
  const result = await client.query<{ db: string }>('SELECT current_database() AS db');
  return result.rows[0]?.db ?? '?';
}

/** Orders dotted version strings numerically (1.10.0 after 1.9.2). */
function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0 && !Number.isNaN(difference)) return difference;
  }
  return a.localeCompare(b);
}
