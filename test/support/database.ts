/**
 * Per-test databases on the server prepared by global-setup.ts. Each call creates a new,
 * uniquely named database, so test files running in parallel never share state.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createDatabase, dropDatabase, withDatabaseName } from '../../sdk/src/index.ts';

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

let created = 0;

/** Creates a database from the migrated template (or empty) and opens a pool (max 20) on it. */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const template = options.template === false ? undefined : inject('templateDatabase');
  created += 1;
  const name = `tasker_test_${process.pid}_${created}_${randomBytes(3).toString('hex')}`;
  await createDatabase(adminUrl, name, template);
  const url = withDatabaseName(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 20 });
  // An idle client dropped by the server must not crash the test worker.
  pool.on('error', (error) => console.error(`[test database ${name}] idle client error: ${error.message}`));
  let dropped = false;
  return {
    name,
    url,
    pool,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await pool.end();
      await dropDatabase(adminUrl, name);
    },
  };
}
