import { Buffer } from 'node:buffer';
import { InvalidIdentifierError } from '../errors.ts';

/** PostgreSQL truncates identifiers beyond NAMEDATALEN - 1 bytes; we refuse instead. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Quotes a name for use as an SQL identifier (`"my ""odd"" db"`). Names PostgreSQL
 * would silently truncate or cannot store are rejected.
 */
export function quoteIdentifier(name: string): string {
  if (name === '') throw new InvalidIdentifierError(name, 'it is empty');
  if (name.includes('\0')) throw new InvalidIdentifierError(name, 'it contains a NUL character');
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new InvalidIdentifierError(name, `it is longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}
