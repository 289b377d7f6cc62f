import { resolveDatabase } from '../db/connect.ts';
import { isTransientConnectionError } from '../db/connect-with-retry.ts';
import { redactDatabaseUrl, redactPasswordIn } from '../db/database-url.ts';
import { describeError, errorCode } from '../db/describe-error.ts';
import { DatabaseConnectionError, TaskerError } from '../errors.ts';
import { DatabaseNotMigratedError } from './cli-errors.ts';
import { stderrLogSink } from './stderr-log.ts';

// undefined_table, undefined_function, invalid_schema_name: the tasker schema (or a migration
// this code needs) is not there.
const NOT_MIGRATED = new Set(['42P01', '42883', '3F000']);
// invalid_password, invalid_authorization_specification, invalid_catalog_name (no such database).
const CANNOT_CONNECT = new Set(['28P01', '28000', '3D000']);

/**
 * Runs `fn` with the database tasker-ctl should use (DATABASE_URL, else the embedded server,
 * started for the duration of the command if needed) and lets go of it afterwards. Raw driver
 * errors that mean "wrong database" become typed errors naming the redacted URL, so the user
 * reads what to do instead of a stack trace.
 */
export async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const database = await resolveDatabase({ log: stderrLogSink });
  try {
    return await fn(database.url);
  } catch (error) {
    throw explainDatabaseError(error, database.url);
  } finally {
    await database.release();
  }
}

/** The typed error for a raw driver error; anything else is returned unchanged. */
export function explainDatabaseError(error: unknown, url: string): unknown {
  if (error instanceof TaskerError) return error;
  const code = errorCode(error);
  const message = redactPasswordIn(describeError(error), url);
  if (code !== undefined && NOT_MIGRATED.has(code)) {
    return new DatabaseNotMigratedError(redactDatabaseUrl(url), message, { cause: error });
  }
  if ((code !== undefined && CANNOT_CONNECT.has(code)) || isTransientConnectionError(error)) {
    return new DatabaseConnectionError(`Cannot connect to ${redactDatabaseUrl(url)}: ${message}`, { cause: error });
  }
  return error;
}
