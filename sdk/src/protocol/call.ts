import { translateProtocolError } from './errors.ts';
import type { Queryable } from './types.ts';

/**
 * Runs one protocol query, turning `tasker.*` errors into typed protocol errors. Every call of
 * the SQL protocol goes through here so no caller has to remember the translation.
 */
export async function callProtocol<R extends object>(
  db: Queryable,
  text: string,
  values: readonly unknown[],
): Promise<R[]> {
  try {
    const result = await db.query<R>(text, values);
    return result.rows;
  } catch (error) {
    throw translateProtocolError(error);
  }
}

/** PostgreSQL returns bigint as text; message ids stay far below 2^53. */
export function toMsgId(value: string | number): number {
  return typeof value === 'number' ? value : Number.parseInt(value, 10);
}
