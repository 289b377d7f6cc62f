import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  MigrationApplyError,
  MigrationChecksumMismatchError,
  MigrationFileMissingError,
  MigrationRunError,
  MigrationTimeoutError,
  PgmqNotInstalledError,
  TaskerError,
  UnsupportedServerVersionError,
} from '../errors.ts';
import { connectWithRetry } from './connect-with-retry.ts';
import { redactDatabaseUrl, redactPasswordIn } from './database-url.ts';
import { Deadline } from './deadline.ts';
import { describeError, errorCode } from './describe-error.ts';
import { logLine, silentLogSink, type LogSink } from './log.ts';
import { listMigrationFiles, type MigrationFile } from './migration-files.ts';
import { resolveMigrationSettings, type DeploymentMode } from './migration-settings.ts';
import { ensurePgmq, type PgmqStatus } from './pgmq-install.ts';
import { defaultMigrationsDir } from './repo-paths.ts';

/** Options of {@link runMigrations}; unset values come from the environment. */
export interface RunMigrationsOptions {
  databaseUrl: string;
  /** Default: the repository's `migrations/`. */
  migrationsDir?: string;
  /** Default: env `DEPLOYMENT_MODE`, else `standard`. */
  mode?: DeploymentMode;
  /** Budget for the whole run. Default: env `DB_MIGRATION_TIMEOUT`, else 300. */
  timeoutSeconds?: number;
  /** Connection retries. Default: env `DB_MIGRATION_RETRIES`, else 3. */
  retries?: number;
  /** Receives `[INFO]`, `[SUCCESS]` and `[ERROR]` lines. */
  log?: LogSink;
  /** Environment to read; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where the PGMQ install script lives; default `migrations/pgmq`. */
  pgmqDir?: string;
  /** First connection back-off delay; default 1000 ms. */
  retryBaseDelayMs?: number;
}

/** What a run did. */
export interface MigrationRunResult {
  mode: DeploymentMode;
  /** Files applied by this run, in order. */
  applied: string[];
  /** Files still not applied (only non-empty for `no-migrate`). */
  pending: string[];
  pgmq: PgmqStatus;
  /** False for `migrate-only`: the process should exit after migrating. */
  continueRunning: boolean;
}

/** A row of `tasker.schema_migrations`. */
interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

/** The oldest PostgreSQL the migrations run on (tested: 15 and the embedded 18). */
const MINIMUM_SERVER_VERSION = '15';
const MINIMUM_SERVER_VERSION_NUM = 150000;

/** Session advisory lock key: the bytes of "tasker". Fixed, so every runner contends for it. */
const MIGRATION_LOCK_KEY = BigInt('0x7461736b6572').toString();

const BOOKKEEPING_SQL = `
CREATE SCHEMA IF NOT EXISTS tasker;
CREATE TABLE IF NOT EXISTS tasker.schema_migrations (
  version      integer PRIMARY KEY,
  name         text NOT NULL,
  checksum     text NOT NULL,
  applied_at   timestamptz NOT NULL DEFAULT now(),
  execution_ms integer NOT NULL
);`;

/**
 * Brings a database's schema up to date with the numbered files in `migrationsDir`.
 *
 * Ensures PGMQ first, then holds a session advisory lock so concurrent runners queue up
 * (the later ones find everything applied). Refuses to continue when an applied file was
 * edited or deleted. Each pending file runs in its own transaction together with its
 * `tasker.schema_migrations` row. The whole run is bounded by `timeoutSeconds`, enforced
 * server-side with statement_timeout/lock_timeout set to the time left.
 */
export async function runMigrations(options: RunMigrationsOptions): Promise<MigrationRunResult> {
  const log = options.log ?? silentLogSink;
  const url = options.databaseUrl;
  let phase = 'reading settings';
  let timeoutSeconds = 0;
  try {
    const settings = resolveMigrationSettings({
      mode: options.mode,
      timeoutSeconds: options.timeoutSeconds,
      retries: options.retries,
      env: options.env,
    });
    timeoutSeconds = settings.timeoutSeconds;
    const { mode, retries } = settings;
    const deadline = new Deadline(timeoutSeconds * 1000);
    const dir = options.migrationsDir ?? defaultMigrationsDir();
    logLine(
      log,
      'INFO',
      `Migrations: mode ${mode}, timeout ${timeoutSeconds} s, retries ${retries}, database ${redactDatabaseUrl(url)}, directory ${dir}`,
    );

    phase = 'reading migration files';
    const files = await listMigrationFiles(dir);

    phase = 'connecting';
    const client = await connectWithRetry(url, {
      retries,
      baseDelayMs: options.retryBaseDelayMs ?? 1000,
      deadline,
      log,
      applicationName: 'tasker-migrate',
    });
    try {
      phase = 'checking the server version';
      await checkServerVersion(client);
      phase = 'checking PGMQ';
      await boundStatements(client, deadline);
      const pgmq = await ensurePgmqForMode(client, log, mode, options.pgmqDir);
      logLine(log, 'INFO', `PGMQ ${pgmq.version} (${pgmq.method}, ${pgmq.source})`);

      phase = 'waiting for the migration lock';
      await lockMigrations(client, deadline, log);
      try {
        phase = 'reading applied migrations';
        if (mode !== 'no-migrate') await client.query(BOOKKEEPING_SQL);
        const applied = await readAppliedMigrations(client);
        verifyAppliedMigrations(applied, files, dir);
        const appliedVersions = new Set(applied.map((row) => row.version));
        const pendingFiles = files.filter((file) => !appliedVersions.has(file.version));

        if (mode === 'no-migrate') {
          for (const file of pendingFiles) logLine(log, 'INFO', `Pending (not applied, DEPLOYMENT_MODE=no-migrate): ${file.name}`);
          logLine(log, 'INFO', `${pendingFiles.length} pending, ${applied.length} applied; nothing applied in no-migrate mode`);
          return { mode, applied: [], pending: pendingFiles.map((file) => file.name), pgmq, continueRunning: true };
        }

        const appliedNow: string[] = [];
        for (const file of pendingFiles) {
          phase = `applying ${file.name}`;
          if (deadline.expired()) throw timeoutError(timeoutSeconds, phase);
          await boundStatements(client, deadline);
          const ms = await applyMigration(client, file);
          appliedNow.push(file.name);
          logLine(log, 'SUCCESS', `Applied ${file.name} in ${ms} ms`);
        }
        logLine(
          log,
          'SUCCESS',
          appliedNow.length === 0
            ? `Schema up to date: ${files.length} migration${files.length === 1 ? '' : 's'}, none pending`
            : `Schema up to date: applied ${appliedNow.length} of ${files.length} migrations`,
        );
        return { mode, applied: appliedNow, pending: [], pgmq, continueRunning: mode !== 'migrate-only' };
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
      }
    } finally {
      await client.end().catch(() => {});
    }
  } catch (error) {
    const failure = asTaskerError(error, phase, timeoutSeconds, url);
    logLine(log, 'ERROR', failure.message);
    throw failure;
  }
}

async function ensurePgmqForMode(client: pg.Client, log: LogSink, mode: DeploymentMode, pgmqDir?: string): Promise<PgmqStatus> {
  try {
    return await ensurePgmq(client, log, { install: mode !== 'no-migrate', ...(pgmqDir === undefined ? {} : { pgmqDir }) });
  } catch (error) {
    if (mode === 'no-migrate' && error instanceof PgmqNotInstalledError) {
      throw new PgmqNotInstalledError(`DEPLOYMENT_MODE=no-migrate installs nothing, including PGMQ. ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * The migrations need PostgreSQL 15 (e.g. `UNIQUE NULLS NOT DISTINCT`); an older server would fail
 * half-way through 0001 with a syntax error, so it is refused first, by name.
 */
async function checkServerVersion(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ num: string; version: string }>(
    "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
  );
  const row = rows[0];
  if (row !== undefined) refuseUnsupportedServer(row.num, row.version);
}

/**
 * Throws UnsupportedServerVersionError when `server_version_num` is below PostgreSQL 15's, or is
 * not a number (then nothing says the server is new enough). Exported for its test: no server
 * older than 15 can be installed next to the tests.
 */
export function refuseUnsupportedServer(serverVersionNum: string, serverVersion: string): void {
  const num = Number(serverVersionNum);
  if (!Number.isInteger(num) || num < MINIMUM_SERVER_VERSION_NUM) {
    throw new UnsupportedServerVersionError(serverVersion, MINIMUM_SERVER_VERSION);
  }
}

/** Caps every following statement and lock wait at the time left in the run. */
async function boundStatements(client: pg.Client, deadline: Deadline): Promise<void> {
  const ms = Math.max(1, deadline.remainingMs());
  await client.query(`SET statement_timeout = ${ms}`);
  await client.query(`SET lock_timeout = ${ms}`);
}

async function lockMigrations(client: pg.Client, deadline: Deadline, log: LogSink): Promise<void> {
  const attempt = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY]);
  if (attempt.rows[0]?.locked === true) return;
  logLine(log, 'INFO', 'Another migration runner holds the lock; waiting for it to finish');
  await boundStatements(client, deadline);
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
}

async function readAppliedMigrations(client: pg.Client): Promise<AppliedMigration[]> {
  const exists = await client.query<{ present: boolean }>(
    `SELECT to_regclass('tasker.schema_migrations') IS NOT NULL AS present`,
  );
  if (exists.rows[0]?.present !== true) return [];
  const result = await client.query<AppliedMigration>(
    'SELECT version, name, checksum FROM tasker.schema_migrations ORDER BY version',
  );
  return result.rows;
}

/** Applied history must match the files: an edit or deletion after the fact is refused. */
function verifyAppliedMigrations(applied: readonly AppliedMigration[], files: readonly MigrationFile[], dir: string): void {
  const byVersion = new Map(files.map((file) => [file.version, file]));
  for (const row of applied) {
    const file = byVersion.get(row.version);
    if (file === undefined) throw new MigrationFileMissingError(row.name, dir);
    if (file.checksum !== row.checksum) throw new MigrationChecksumMismatchError(file.name, row.checksum, file.checksum);
  }
}

/** Runs one file and records it, atomically; returns how long the SQL took. */
async function applyMigration(client: pg.Client, file: MigrationFile): Promise<number> {
  await client.query('BEGIN');
  try {
    const started = performance.now();
    try {
      // No parameters: the simple-query protocol accepts the file's many statements.
      await client.query(file.sql);
    } catch (error) {
      throw applyError(file, error);
    }
    const ms = Math.round(performance.now() - started);
    await client.query(
      'INSERT INTO tasker.schema_migrations (version, name, checksum, execution_ms) VALUES ($1, $2, $3, $4)',
      [file.version, file.name, file.checksum, ms],
    );
    await client.query('COMMIT');
    return ms;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

function applyError(file: MigrationFile, error: unknown): Error {
  if (isTimeout(error)) return error as Error;
  let where = '';
  let detail = '';
  if (error instanceof pg.DatabaseError) {
    // `position` is a 1-based character offset into the file's text.
    const position = Number(error.position);
    if (Number.isInteger(position) && position > 0) where = ` at line ${file.sql.slice(0, position - 1).split('\n').length}`;
    if (error.detail !== undefined) detail = `; ${error.detail}`;
  }
  const code = errorCode(error);
  return new MigrationApplyError(
    file.name,
    `Failed to apply ${file.name}${where}: ${describeError(error)}${code === undefined ? '' : ` (SQLSTATE ${code})`}${detail}. ` +
      'Its transaction was rolled back.',
    { cause: error },
  );
}

/**
 * query_canceled (our statement_timeout), lock_not_available (our lock_timeout), or the
 * driver's own query_timeout, the backstop for a server that stopped answering.
 */
function isTimeout(error: unknown): boolean {
  const code = errorCode(error);
  return code === '57014' || code === '55P03' || (error instanceof Error && error.message === 'Query read timeout');
}

function timeoutError(timeoutSeconds: number, phase: string, cause?: unknown): MigrationTimeoutError {
  return new MigrationTimeoutError(
    `Migration run exceeded its ${timeoutSeconds} s budget (DB_MIGRATION_TIMEOUT) while ${phase}`,
    cause === undefined ? undefined : { cause },
  );
}

function asTaskerError(error: unknown, phase: string, timeoutSeconds: number, url: string): TaskerError {
  if (isTimeout(error)) return timeoutError(timeoutSeconds, phase, error);
  if (error instanceof TaskerError) return error;
  return new MigrationRunError(`Migration run failed while ${phase}: ${redactPasswordIn(describeError(error), url)}`, {
    cause: error,
  });
}
