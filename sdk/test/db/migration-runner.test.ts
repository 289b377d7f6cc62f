import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DatabaseConnectionError,
  InvalidConfigError,
  MigrationApplyError,
  MigrationChecksumMismatchError,
  MigrationFileMissingError,
  MigrationTimeoutError,
  PgmqNotInstalledError,
  UnsupportedServerVersionError,
  ensurePgmq,
  buildDatabaseUrl,
  parseDatabaseUrl,
  runMigrations,
  silentLogSink,
  type RunMigrationsOptions,
} from '../../src/index.ts';
import { findFreePort } from '../../src/db/free-port.ts';
import { refuseUnsupportedServer } from '../../src/db/migration-runner.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { tempDir, writeFiles, type TempDir } from '../support/temp-dir.ts';

const MIGRATIONS = {
  '0001_create.sql': 'CREATE TABLE widgets (id int PRIMARY KEY, label text);',
  '0002_seed.sql': "INSERT INTO widgets VALUES (1, 'one');\nINSERT INTO widgets VALUES (2, 'two');",
  '0010_alter.sql': 'ALTER TABLE widgets ADD COLUMN weight int NOT NULL DEFAULT 0;',
};

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function emptyDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ template: false });
  cleanups.push(() => db.drop());
  return db;
}

async function migrationsDir(files: Record<string, string> = MIGRATIONS): Promise<TempDir> {
  const dir = await tempDir('tasker-runner');
  await writeFiles(dir.path, files);
  cleanups.push(() => dir.remove());
  return dir;
}

/** Runs with a line collector; env is empty so the machine's DEPLOYMENT_MODE cannot leak in. */
function run(options: Partial<RunMigrationsOptions> & { databaseUrl: string }) {
  const lines: string[] = [];
  const promise = runMigrations({ env: {}, log: (line) => lines.push(line), ...options });
  return { lines, promise };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

describe('runMigrations on an empty database', () => {
  it('installs PGMQ, applies files in numeric order and records their checksums', async () => {
    const db = await emptyDatabase();
    const dir = await migrationsDir();
    const { lines, promise } = run({ databaseUrl: db.url, migrationsDir: dir.path });
    const result = await promise;

    expect(result.applied).toEqual(['0001_create.sql', '0002_seed.sql', '0010_alter.sql']);
    expect(result.pending).toEqual([]);
    expect(result.continueRunning).toBe(true);
    expect(result.pgmq).toMatchObject({ version: '1.11.1', method: 'sql' });
    expect(lines).toContain(`[INFO] PGMQ 1.11.1 (sql, ${result.pgmq.source})`);
    expect(lines.filter((line) => line.startsWith('[SUCCESS] Applied '))).toHaveLength(3);
    expect(lines.find((line) => line.startsWith('[SUCCESS] Applied 0002_seed.sql in '))).toMatch(/ in \d+ ms$/);

    const recorded = await db.pool.query<{ version: number; name: string; checksum: string; execution_ms: number }>(
      'SELECT version, name, checksum, execution_ms FROM tasker.schema_migrations ORDER BY version',
    );
    expect(recorded.rows.map((row) => [row.version, row.name, row.checksum])).toEqual([
      [1, '0001_create.sql', sha256(MIGRATIONS['0001_create.sql'])],
      [2, '0002_seed.sql', sha256(MIGRATIONS['0002_seed.sql'])],
      [10, '0010_alter.sql', sha256(MIGRATIONS['0010_alter.sql'])],
    ]);
    const widgets = await db.pool.query('SELECT id, label, weight FROM widgets ORDER BY id');
    expect(widgets.rows).toEqual([
      { id: 1, label: 'one', weight: 0 },
      { id: 2, label: 'two', weight: 0 },
    ]);
  });

  it('applies nothing on a second run', async () => {
    const db = await emptyDatabase();
    const dir = await migrationsDir();
    await run({ databaseUrl: db.url, migrationsDir: dir.path }).promise;
    const second = run({ databaseUrl: db.url, migrationsDir: dir.path });
    const result = await second.promise;
    expect(result.applied).toEqual([]);
    expect(result.pgmq.installedNow).toBe(false);
    expect(second.lines.some((line) => line.includes('none pending'))).toBe(true);
  });

  it('applies only the new file when one is added', async () => {
    const db = await emptyDatabase();
    const dir = await migrationsDir();
    await run({ databaseUrl: db.url, migrationsDir: dir.path }).promise;
    await writeFile(join(dir.path, '0011_more.sql'), 'CREATE INDEX widgets_label ON widgets (label);');
    const result = await run({ databaseUrl: db.url, migrationsDir: dir.path }).promise;
    expect(result.applied).toEqual(['0011_more.sql']);
  });

  it('refuses an applied file that was edited, naming it and both checksums', async () => {
    const db = await emptyDatabase();
    const dir = await migrationsDir();
    await run({ databaseUrl: db.url, migrationsDir: dir.path }).promise;
    const edited = "INSERT INTO widgets VALUES (3, 'three');";
    await writeFile(join(dir.path, '0002_seed.sql'), edited);

    const { lines, promise } = run({ databaseUrl: db.url, migrationsDir: dir.path });
    const error = await promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationChecksumMismatchError);
    const message = (error as Error).message;
    expect(message).toContain('0002_seed.sql');
    expect(message).toContain(sha256(MIGRATIONS['0002_seed.sql']));
    expect(message).toContain(sha256(edited));
    expect(lines.at(-1)).toBe(`[ERROR] ${message}`);
  });

  it('refuses when an applied file is missing', async () => {
    const db = await emptyDatabase();
    const dir = await migrationsDir();
    await run({ databaseUrl: db.url, migrationsDir: dir.path }).promise;
    await rm(join(dir.path, '0001_create.sql'));

    const { lines, promise } = run({ databaseUrl: db.url, migrationsDir: dir.path });
    const error = await promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationFileMissingError);
    expect((error as Error).message).toContain('0001_create.sql');
    expect(lines.at(-1)).toMatch(/^\[ERROR\] .*0001_create\.sql/);
  });

  it('rolls back a failing file, records nothing for it and names the file and line', async () => {
    const db = await emptyDatabase();
    const dir = await migrationsDir({
      '0001_ok.sql': 'CREATE TABLE a (id int);',
      '0002_bad.sql': 'CREATE TABLE b (id int);\nSELECT 1;\nSELECT * FROM no_such_table;',
    });
    const error = await run({ databaseUrl: db.url, migrationsDir: dir.path }).promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationApplyError);
    expect((error as Error).message).toMatch(/0002_bad\.sql at line 3: relation "no_such_table" does not exist \(SQLSTATE 42P01\)/);
    const recorded = await db.pool.query<{ name: string }>('SELECT name FROM tasker.schema_migrations');
    expect(recorded.rows.map((row) => row.name)).toEqual(['0001_ok.sql']);
    const tableB = await db.pool.query<{ present: boolean }>(`SELECT to_regclass('b') IS NOT NULL AS present`);
    expect(tableB.rows[0]?.present).toBe(false);
  });
});

describe('server version', () => {
  it('refuses a server older than PostgreSQL 15 by name, before any file', () => {
    // No older server can be installed here, so the rule is checked on the values it reads
    // (server_version_num and server_version); the runs above pass it on a real server.
    expect(() => refuseUnsupportedServer('140013', '14.13')).toThrow(UnsupportedServerVersionError);
    expect(() => refuseUnsupportedServer('140013', '14.13')).toThrow(
      'PostgreSQL 15 or later is required; this server is PostgreSQL 14.13. Upgrade it, or unset DATABASE_URL to use the embedded server.',
    );
    expect(() => refuseUnsupportedServer('149999', '14beta')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_SERVER_VERSION' }));
    expect(() => refuseUnsupportedServer('', 'unknown')).toThrow(UnsupportedServerVersionError);
    expect(() => refuseUnsupportedServer('150000', '15.0')).not.toThrow();
    expect(() => refuseUnsupportedServer('150018', '15.18 (Debian 15.18-0+deb12u1)')).not.toThrow();
    expect(() => refuseUnsupportedServer('180004', '18.4')).not.toThrow();
  });
});

describe('deployment modes and settings', () => {
  it('no-migrate applies nothing and lists the pending files', async () => {
    const db = await emptyDatabase();
    const client = await db.pool.connect();
    try {
      await ensurePgmq(client, silentLogSink);
    } finally {
      client.release();
    }
    const dir = await migrationsDir();
    const { lines, promise } = run({ databaseUrl: db.url, migrationsDir: dir.path, env: { DEPLOYMENT_MODE: 'no-migrate' } });
    const result = await promise;
    expect(result.mode).toBe('no-migrate');
    expect(result.applied).toEqual([]);
    expect(result.pending).toEqual(['0001_create.sql', '0002_seed.sql', '0010_alter.sql']);
    expect(result.continueRunning).toBe(true);
    expect(lines.filter((line) => line.startsWith('[INFO] Pending'))).toHaveLength(3);
    const bookkeeping = await db.pool.query<{ present: boolean }>(
      `SELECT to_regclass('tasker.schema_migrations') IS NOT NULL AS present`,
    );
    expect(bookkeeping.rows[0]?.present).toBe(false);

    // After a standard run, no-migrate only lists what was added since.
    await run({ databaseUrl: db.url, migrationsDir: dir.path }).promise;
    await writeFile(join(dir.path, '0020_new.sql'), 'SELECT 1;');
    const later = await run({ databaseUrl: db.url, migrationsDir: dir.path, mode: 'no-migrate' }).promise;
    expect(later.pending).toEqual(['0020_new.sql']);
  });

  it('no-migrate does not install PGMQ and says how to get it', async () => {
    const db = await emptyDatabase();
    const dir = await migrationsDir();
    const error = await run({ databaseUrl: db.url, migrationsDir: dir.path, mode: 'no-migrate' }).promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PgmqNotInstalledError);
    expect((error as Error).message).toMatch(/no-migrate.*CREATE EXTENSION pgmq/s);
  });

  it('migrate-only applies and tells the caller to stop afterwards', async () => {
    const db = await emptyDatabase();
    const dir = await migrationsDir();
    const result = await run({ databaseUrl: db.url, migrationsDir: dir.path, env: { DEPLOYMENT_MODE: 'migrate-only' } }).promise;
    expect(result.applied).toHaveLength(3);
    expect(result.continueRunning).toBe(false);
  });

  it('rejects a bad DEPLOYMENT_MODE naming the variable and the allowed values', async () => {
    const { lines, promise } = run({ databaseUrl: 'postgres://u:p@127.0.0.1:1/x', env: { DEPLOYMENT_MODE: 'yolo' } });
    const error = await promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as Error).message).toBe(
      'DEPLOYMENT_MODE="yolo" is invalid: expected one of standard, migrate-only, no-migrate',
    );
    expect(lines).toEqual([`[ERROR] ${(error as Error).message}`]);
  });

  it('rejects bad timeout and retry values', async () => {
    const url = 'postgres://u:p@127.0.0.1:1/x';
    await expect(run({ databaseUrl: url, env: { DB_MIGRATION_TIMEOUT: '0' } }).promise).rejects.toThrow(/DB_MIGRATION_TIMEOUT/);
    await expect(run({ databaseUrl: url, env: { DB_MIGRATION_TIMEOUT: '5s' } }).promise).rejects.toThrow(/DB_MIGRATION_TIMEOUT/);
    await expect(run({ databaseUrl: url, env: { DB_MIGRATION_RETRIES: '-1' } }).promise).rejects.toThrow(/DB_MIGRATION_RETRIES/);
  });
});

describe('concurrency, time limits and connection failures', () => {
  it('lets 4 concurrent runners succeed while each file is applied exactly once', async () => {
    const db = await emptyDatabase();
    const dir = await migrationsDir({
      // The sleep keeps the first runner inside its lock while the others arrive.
      '0001_slow.sql': 'SELECT pg_sleep(0.5);\nCREATE TABLE counter (n int);',
      '0002_count.sql': 'INSERT INTO counter VALUES (1);',
      '0003_more.sql': 'INSERT INTO counter VALUES (2);',
    });
    const runs = Array.from({ length: 4 }, () => run({ databaseUrl: db.url, migrationsDir: dir.path }));
    const results = await Promise.all(runs.map((r) => r.promise));

    const applied = results.flatMap((result) => result.applied).sort();
    expect(applied).toEqual(['0001_slow.sql', '0002_count.sql', '0003_more.sql']);
    expect(results.filter((result) => result.applied.length > 0)).toHaveLength(1);
    expect(results.filter((result) => result.pgmq.installedNow)).toHaveLength(1);
    expect(runs.some((r) => r.lines.some((line) => line.includes('waiting for it to finish')))).toBe(true);

    const counter = await db.pool.query<{ n: number }>('SELECT n FROM counter ORDER BY n');
    expect(counter.rows).toEqual([{ n: 1 }, { n: 2 }]);
    const pgmqRows = await db.pool.query('SELECT name, version FROM pgmq.__pgmq_migrations');
    expect(pgmqRows.rows).toEqual([{ name: 'pgmq.sql', version: '1.11.1' }]);
  });

  it('stops a run that exceeds its time budget', async () => {
    const db = await emptyDatabase();
    const dir = await migrationsDir({ '0001_forever.sql': 'SELECT pg_sleep(30);' });
    const started = Date.now();
    const error = await run({ databaseUrl: db.url, migrationsDir: dir.path, timeoutSeconds: 2 }).promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationTimeoutError);
    expect((error as Error).message).toMatch(/2 s budget.*applying 0001_forever\.sql/);
    expect(Date.now() - started).toBeLessThan(10_000);
    const recorded = await db.pool.query('SELECT 1 FROM tasker.schema_migrations');
    expect(recorded.rowCount).toBe(0);
  });

  it('retries an unreachable database `retries` times, then fails with a redacted error', async () => {
    const port = await findFreePort();
    const url = `postgres://tasker:s3cretpw@127.0.0.1:${port}/nowhere`;
    const { lines, promise } = run({ databaseUrl: url, retries: 2, retryBaseDelayMs: 20 });
    const error = await promise.catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DatabaseConnectionError);
    const message = (error as Error).message;
    expect(message).toContain(`postgres://tasker:***@127.0.0.1:${port}/nowhere`);
    expect(message).toContain('after 3 attempts');
    expect(message).toContain('ECONNREFUSED');
    expect(lines.filter((line) => /retry \d\/2/.test(line))).toHaveLength(2);
    expect(lines.filter((line) => line.startsWith('[ERROR]'))).toEqual([`[ERROR] ${message}`]);
    for (const line of lines) expect(line).not.toContain('s3cretpw');
  });

  it('does not retry a refused login', async () => {
    const db = await emptyDatabase();
    const parts = parseDatabaseUrl(db.url);
    // An unknown role fails under password and trust authentication alike, and never gets better.
    const refused = buildDatabaseUrl({ ...parts, user: 'no_such_role', password: 'wrong-password' });
    const { lines, promise } = run({ databaseUrl: refused, retries: 3, retryBaseDelayMs: 1000 });
    const error = await promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseConnectionError);
    expect((error as Error).message).toMatch(/password authentication failed|role "no_such_role" does not exist/);
    expect(lines.some((line) => line.includes('retry'))).toBe(false);
    for (const line of lines) expect(line).not.toContain('wrong-password');
  });
});
