/**
 * The one PostgreSQL of a conformance run: DATABASE_URL when set, else the embedded server
 * (started once, or reused when already running). A migrated template database is made once per
 * run; every cell then gets its own copy (CREATE DATABASE ... TEMPLATE, a file copy), so cells
 * never see each other's tasks and none pays for migrating. Databases are named
 * `tasker_conformance_<pid>_...`; ones left by a run that crashed are dropped on the embedded
 * server, where the pid is a pid on this machine.
 */
import {
  createDatabase,
  dropDatabase,
  redactDatabaseUrl,
  resolveDatabase,
  runMigrations,
  withClient,
  withDatabaseName,
} from '@tasker/sdk';
import { isProcessAlive } from './process-alive.ts';

const PREFIX = 'tasker_conformance_';

/** A database made for one cell or run. */
export interface CellDatabase {
  name: string;
  /** Full URL with the password, for workers and pools; never printed. */
  url: string;
  drop(): Promise<void>;
}

/** The shared server of a run. */
export interface SharedServer {
  /** One line for the report: redacted URL, PGMQ version, migrations. */
  summary: string;
  createDatabase(label: string): Promise<CellDatabase>;
  release(): Promise<void>;
}

/** Starts or attaches to the server and migrates this run's template database. Throws, loudly, when there is no database. */
export async function startSharedServer(log: (line: string) => void): Promise<SharedServer> {
  const lines: string[] = [];
  const database = await resolveDatabase({ log: (line) => lines.push(line) });
  const adminUrl = withDatabaseName(database.url, 'postgres');
  const template = `${PREFIX}${process.pid}_template`;
  let summary: string;
  try {
    if (database.embedded !== undefined) await dropLeftovers(adminUrl);
    await dropDatabase(adminUrl, template);
    await createDatabase(adminUrl, template);
    const migrated = await runMigrations({
      databaseUrl: withDatabaseName(adminUrl, template),
      mode: 'standard',
      log: (line) => lines.push(line),
    });
    summary =
      `${redactDatabaseUrl(adminUrl)}${database.embedded === undefined ? '' : ' (embedded)'}, ` +
      `PGMQ ${migrated.pgmq.version}, ${migrated.applied.length} migrations`;
  } catch (error) {
    for (const line of lines) log(line);
    await dropDatabase(adminUrl, template).catch(() => {});
    await database.release();
    throw error;
  }
  let made = 0;
  return {
    summary,
    async createDatabase(label: string): Promise<CellDatabase> {
      made += 1;
      const name = `${PREFIX}${process.pid}_${made}_${label.replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
      await createDatabase(adminUrl, name, template);
      return { name, url: withDatabaseName(adminUrl, name), drop: () => dropDatabase(adminUrl, name) };
    },
    async release(): Promise<void> {
      try {
        await dropDatabase(adminUrl, template);
      } finally {
        await database.release();
      }
    },
  };
}

async function dropLeftovers(adminUrl: string): Promise<void> {
  const names = await withClient(adminUrl, async (client) => {
    const result = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'tasker\\_conformance\\_%'`);
    return result.rows.map((row) => row.datname);
  });
  for (const name of names) {
    const pid = Number(/^tasker_conformance_(\d+)_/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !isProcessAlive(pid)) await dropDatabase(adminUrl, name);
  }
}
