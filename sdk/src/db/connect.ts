import pg from 'pg';
import { DatabaseConnectionError } from '../errors.ts';
import { parseDatabaseUrl, redactDatabaseUrl, redactPasswordIn } from './database-url.ts';
import { isEmbeddedPostgresPinned, startEmbeddedPostgres, type EmbeddedPostgresHandle, type EmbeddedPostgresOptions } from './embedded-postgres.ts';
import { otherEmbeddedUsers, registerEmbeddedUser, unregisterEmbeddedUser } from './embedded-users.ts';
import { logLine, silentLogSink } from './log.ts';
import { quoteIdentifier } from './sql-identifier.ts';

/** A database to use, and how to let go of it. */
export interface ResolvedDatabase {
  /** Full URL including the password: for drivers, not for logs. */
  url: string;
  /** Set when the URL points at the embedded server. */
  embedded?: EmbeddedPostgresHandle;
  /** Stops the embedded server if, and only if, this call started it. */
  release(): Promise<void>;
}

/** Options of {@link resolveDatabase}. */
export interface ResolveDatabaseOptions extends EmbeddedPostgresOptions {
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Picks the database: `DATABASE_URL` when set, otherwise the project's embedded server,
 * started if needed (or reused when another process already runs it).
 */
export async function resolveDatabase(options: ResolveDatabaseOptions = {}): Promise<ResolvedDatabase> {
  const env = options.env ?? process.env;
  const fromEnv = env.DATABASE_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    parseDatabaseUrl(fromEnv);
    return { url: fromEnv, release: async () => {} };
  }
  const embedded = await startEmbeddedPostgres(options);
  const entry = await registerEmbeddedUser(embedded.stateDir);
  return {
    url: embedded.url,
    embedded,
    release: async () => {
      await unregisterEmbeddedUser(embedded.stateDir, entry);
      if (embedded.reused) return;
      const user = await embeddedServerUser(embedded, entry);
      if (user !== undefined) {
        logLine(options.log ?? silentLogSink, 'INFO', `Left the embedded PostgreSQL running: ${user}`);
        return;
      }
      await embedded.stop();
    },
  };
}

/**
 * Why the server this process started must outlive it, if it must: `tasker-ctl db start` pinned
 * it, or another process attached to it or is connected (a worker, a second demo, the test
 * suite). Stopping it then would cut them off.
 */
async function embeddedServerUser(embedded: EmbeddedPostgresHandle, entry: string): Promise<string | undefined> {
  if (isEmbeddedPostgresPinned(embedded.stateDir)) return '`tasker-ctl db start` keeps it until `tasker-ctl db stop`';
  const users = await otherEmbeddedUsers(embedded.stateDir, entry);
  if (users > 0) return `${users} other process${users === 1 ? '' : 'es'} attached to it`;
  try {
    const others = await withClient(embedded.url, async (client) => {
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      return rows[0]?.n ?? 0;
    });
    return others > 0 ? `${others} other connection${others === 1 ? '' : 's'} still use it` : undefined;
  } catch {
    // Cannot ask (it is going down already): nothing keeps it.
    return undefined;
  }
}

/**
 * Opens one connection, runs `fn` with it and always closes it. Connection failures
 * become a {@link DatabaseConnectionError} naming the redacted URL.
 */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  // Without a listener, a server-side disconnect while idle would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new DatabaseConnectionError(
      `Cannot connect to ${redactDatabaseUrl(url)}: ${redactPasswordIn(error instanceof Error ? error.message : String(error), url)}`,
      { cause: error },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** `CREATE DATABASE name [TEMPLATE template]`, with both names quoted as identifiers. */
export async function createDatabase(adminUrl: string, name: string, template?: string): Promise<void> {
  const sql = `CREATE DATABASE ${quoteIdentifier(name)}${template === undefined ? '' : ` TEMPLATE ${quoteIdentifier(template)}`}`;
  await withClient(adminUrl, async (client) => {
    await client.query(sql);
  });
}

/** Drops a database if it exists, disconnecting its sessions first (`WITH (FORCE)`). */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
  });
}
