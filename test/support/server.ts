/**
 * The test PostgreSQL server, runtime-neutral (Node, Bun, Deno): one server for a whole run
 * (DATABASE_URL, or the embedded server) and one template database migrated with the real
 * migrations/ and PGMQ, from which each test creates its own database. The vitest global setup,
 * and the Bun and Deno runners of the binding suite, all use this. Any failure is thrown: database
 * tests are never skipped.
 */
import process from 'node:process';
import {
  createDatabase,
  dropDatabase,
  redactDatabaseUrl,
  resolveDatabase,
  runMigrations,
  withClient,
  withDatabaseName,
  type LogSink,
} from '../../sdk/src/index.ts';
import { isProcessAlive } from '../../sdk/src/db/process-alive.ts';

/** Where tests create their databases. */
export interface TestServerRef {
  /** URL of the `postgres` database on the test server (for CREATE/DROP DATABASE). */
  adminUrl: string;
  /** Migrated database that test databases are created from. */
  templateDatabase: string;
}

/** A prepared test server, released once at the end of the run. */
export interface TestServer extends TestServerRef {
  /** True when the server is the embedded one (not DATABASE_URL). */
  embedded: boolean;
  /** One line describing the server and template, for the run's log. */
  summary: string;
  /** Drops the template database and stops the embedded server if this call started it. */
  release(): Promise<void>;
}

/** Options of {@link prepareTestServer}. */
export interface PrepareTestServerOptions {
  /** Receives the setup's log lines; by default they are printed only if setup fails. */
  log?: LogSink;
}

/** Test databases embed the creating process's pid: `tasker_test_<pid>_...`, `tasker_test_template_<pid>`. */
const TEST_DATABASE = /^tasker_test_(?:template_)?(\d+)(?:_|$)/;

/** Starts (or attaches to) the server and creates this process's migrated template database. */
export async function prepareTestServer(options: PrepareTestServerOptions = {}): Promise<TestServer> {
  const lines: string[] = [];
  const log: LogSink = options.log ?? ((line) => lines.push(line));
  const database = await resolveDatabase({ log });
  const adminUrl = withDatabaseName(database.url, 'postgres');
  const templateDatabase = `tasker_test_template_${process.pid}`;
  let summary: string;
  try {
    if (database.embedded !== undefined) await dropLeftoverDatabases(adminUrl);
    await dropDatabase(adminUrl, templateDatabase);
    await createDatabase(adminUrl, templateDatabase);
    // Standard mode whatever DEPLOYMENT_MODE says: the template must be fully migrated.
    const result = await runMigrations({ databaseUrl: withDatabaseName(adminUrl, templateDatabase), mode: 'standard', log });
    const serverVersion = await checkServerMajor(adminUrl, process.env.TASKER_TEST_PG_MAJOR);
    summary =
      `${redactDatabaseUrl(adminUrl)}${database.embedded === undefined ? '' : ' (embedded)'}, PostgreSQL ${serverVersion}: ` +
      `template ${templateDatabase} with PGMQ ${result.pgmq.version} (${result.pgmq.method}, ${result.pgmq.source}), ` +
      `${result.applied.length} migrations applied`;
  } catch (error) {
    for (const line of lines) console.error(line);
    await dropDatabase(adminUrl, templateDatabase).catch(() => {});
    await database.release();
    throw error;
  }
  let released = false;
  return {
    adminUrl,
    templateDatabase,
    embedded: database.embedded !== undefined,
    summary,
    release: async () => {
      if (released) return;
      released = true;
      try {
        await dropDatabase(adminUrl, templateDatabase);
      } finally {
        await database.release();
      }
    },
  };
}

/**
 * The server's version; with `expectedMajor` set (TASKER_TEST_PG_MAJOR, which `npm run test:pg15`
 * sets), throws unless the server is that major version, so a run meant for one version cannot
 * pass on another.
 */
async function checkServerMajor(adminUrl: string, expectedMajor: string | undefined): Promise<string> {
  const row = await withClient(adminUrl, async (client) => {
    const result = await client.query<{ num: string; version: string }>(
      "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
    );
    return result.rows[0];
  });
  const version = row?.version ?? 'unknown';
  if (expectedMajor !== undefined && expectedMajor !== '') {
    const major = Math.floor(Number(row?.num) / 10_000);
    if (String(major) !== expectedMajor) {
      throw new Error(`TASKER_TEST_PG_MAJOR=${expectedMajor}, but the test server is PostgreSQL ${version}`);
    }
  }
  return version;
}

let created = 0;

/** A database made for one test. */
export interface CreatedDatabase {
  name: string;
  /** Full URL (with password); for drivers and runners under test. */
  url: string;
  /** Drops it, disconnecting any session left. */
  drop(): Promise<void>;
}

/**
 * Creates a uniquely named database (`tasker_test_<pid>_<n>_<random>`) on the test server, a copy
 * of the migrated template unless `templateDatabase` is undefined (then empty).
 */
export async function createDatabaseFromTemplate(
  adminUrl: string,
  templateDatabase: string | undefined,
): Promise<CreatedDatabase> {
  created += 1;
  const random = Array.from(crypto.getRandomValues(new Uint8Array(3)), (byte) => byte.toString(16).padStart(2, '0')).join('');
  const name = `tasker_test_${process.pid}_${created}_${random}`;
  await createDatabase(adminUrl, name, templateDatabase);
  return {
    name,
    url: withDatabaseName(adminUrl, name),
    drop: () => dropDatabase(adminUrl, name),
  };
}

/**
 * Drops test databases left by runs that crashed before dropping them. Only done on the
 * embedded server, where the pid in a name is a pid on this machine.
 */
async function dropLeftoverDatabases(adminUrl: string): Promise<void> {
  const names = await withClient(adminUrl, async (client) => {
    const result = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'tasker\\_test\\_%'`);
    return result.rows.map((row) => row.datname);
  });
  for (const name of names) {
    const pid = Number(TEST_DATABASE.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !isProcessAlive(pid)) await dropDatabase(adminUrl, name);
  }
}
