/**
 * Vitest global setup: one PostgreSQL server for the whole run (DATABASE_URL, or the
 * embedded server), and one template database migrated with the real migrations/ and
 * PGMQ, from which each test file clones its own database. Any failure here fails the
 * run loudly: database tests are never skipped.
 */
import type { TestProject } from 'vitest/node';
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

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the `postgres` database on the test server (for CREATE/DROP DATABASE). */
    adminUrl: string;
    /** Migrated database that test databases are created from. */
    templateDatabase: string;
  }
}

/** Test databases embed the creating process's pid: `tasker_test_<pid>_...`, `tasker_test_template_<pid>`. */
const TEST_DATABASE = /^tasker_test_(?:template_)?(\d+)(?:_|$)/;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const lines: string[] = [];
  const log: LogSink = (line) => lines.push(line);
  const database = await resolveDatabase({ log });
  const adminUrl = withDatabaseName(database.url, 'postgres');
  const templateDatabase = `tasker_test_template_${process.pid}`;
  try {
    if (database.embedded !== undefined) await dropLeftoverDatabases(adminUrl);
    await dropDatabase(adminUrl, templateDatabase);
    await createDatabase(adminUrl, templateDatabase);
    // Standard mode whatever DEPLOYMENT_MODE says: the template must be fully migrated.
    const result = await runMigrations({ databaseUrl: withDatabaseName(adminUrl, templateDatabase), mode: 'standard', log });
    console.log(
      `[test setup] ${redactDatabaseUrl(adminUrl)}${database.embedded === undefined ? '' : ' (embedded)'}: ` +
        `template ${templateDatabase} with PGMQ ${result.pgmq.version} (${result.pgmq.method}, ${result.pgmq.source}), ` +
        `${result.applied.length} migrations applied`,
    );
  } catch (error) {
    for (const line of lines) console.error(line);
    await dropDatabase(adminUrl, templateDatabase).catch(() => {});
    await database.release();
    throw error;
  }
  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    try {
      await dropDatabase(adminUrl, templateDatabase);
    } finally {
      await database.release();
    }
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
