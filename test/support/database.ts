/**
 * Per-test databases on the server prepared by global-setup.ts. Each call creates a new,
 * uniquely named database, so test files running in parallel never share state.
 */
import pg from 'pg';
import { inject } from 'vitest';
import { createDatabaseFromTemplate, type TestServerRef } from './server.ts';

/** A database of one's own, with a pool on it. */
export interface TestDatabase {
  name: string;
  /** Full URL (with password); for drivers and runners under test. */
  url: string;
  pool: pg.Pool;
  /** Ends the pool and drops the database, disconnecting any session left. */
  drop(): Promise<void>;
}

/** Options of {@link createTestDatabase}. */
export interface CreateTestDatabaseOptions {
  /** True (default): a copy of the migrated template. False: an empty database. */
  template?: boolean;
}

/** The server global-setup.ts prepared, as provided to this test worker. */
export function injectedTestServer(): TestServerRef {
  return { adminUrl: inject('adminUrl'), templateDatabase: inject('templateDatabase') };
}

/** Creates a database from the migrated template (or empty) and opens a pool (max 20) on it. */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const server = injectedTestServer();
  const database = await createDatabaseFromTemplate(
    server.adminUrl,
    options.template === false ? undefined : server.templateDatabase,
  );
  const pool = new pg.Pool({ connectionString: database.url, max: 20 });
  // An idle client dropped by the server must not crash the test worker.
  pool.on('error', (error) => console.error(`[test database ${database.name}] idle client error: ${error.message}`));
  let dropped = false;
  return {
    name: database.name,
    url: database.url,
    pool,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await pool.end();
      await database.drop();
    },
  };
}
