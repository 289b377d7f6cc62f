/**
 * Runs one case of the shared binding suite in its own database: creates a database from the
 * migrated template, opens a pool on it, builds the context, runs the case and always drops the
 * database (after the case, whatever happened). Used by every runner (vitest on Node, bun test,
 * deno test).
 *
 * Runners that have a server prepared (vitest's global setup) pass it; the others may omit it,
 * and the first case then prepares one for the whole process (prepareTestServer), which the runner
 * releases at the end with releaseSharedTestServer().
 */
import pg from 'pg';
import type { BindingModule } from '../../sdk/src/binding/types.ts';
import { createDatabaseFromTemplate, prepareTestServer, type TestServer, type TestServerRef } from '../support/server.ts';
import type { BindingCase, BindingCaseContext } from './case.ts';

/** Default per-case bound, the same for every runner (see BindingCase.timeoutMs). */
export const DEFAULT_CASE_TIMEOUT_MS = 60_000;

let shared: Promise<TestServer> | undefined;

/** The server this process prepared for itself (first call prepares it). */
export function sharedTestServer(): Promise<TestServer> {
  shared ??= prepareTestServer().then((server) => {
    console.log(`[binding suite] ${server.summary}`);
    return server;
  });
  return shared;
}

/** Releases the server sharedTestServer() prepared, if any (drops the template, stops what it started). */
export async function releaseSharedTestServer(): Promise<void> {
  const server = shared;
  shared = undefined;
  if (server !== undefined) await (await server).release();
}

/** Runs `caseDef` against `binding` in a fresh database; throws whatever the case throws. */
export async function runBindingCase(
  caseDef: BindingCase,
  binding: BindingModule,
  runtime: BindingCaseContext['runtime'],
  server?: TestServerRef,
): Promise<void> {
  const { adminUrl, templateDatabase } = server ?? (await sharedTestServer());
  const database = await createDatabaseFromTemplate(adminUrl, templateDatabase);
  const pool = new pg.Pool({ connectionString: database.url, max: 10 });
  // Cases kill connections on purpose; an idle client dropped by the server must not crash the runner.
  pool.on('error', () => {});
  try {
    await caseDef.run({ binding, bindingName: binding.name, databaseUrl: database.url, pool, runtime });
  } finally {
    await pool.end().catch(() => {});
    await database.drop();
  }
}
