/**
 * Vitest global setup: prepares the test server and its migrated template database
 * (test/support/server.ts, shared with the Bun and Deno runners) and hands their names to the
 * test files. Any failure here fails the run loudly: database tests are never skipped.
 */
import type { TestProject } from 'vitest/node';
import { prepareTestServer } from './server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the `postgres` database on the test server (for CREATE/DROP DATABASE). */
    adminUrl: string;
    /** Migrated database that test databases are created from. */
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await prepareTestServer();
  console.log(`[test setup] ${server.summary}`);
  project.provide('adminUrl', server.adminUrl);
  project.provide('templateDatabase', server.templateDatabase);
  return () => server.release();
}
