import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuplicateMigrationVersionError, MigrationFileNameError, MigrationsDirError } from '../errors.ts';
import { sha256Hex } from './sha256.ts';

/** One numbered migration file on disk. */
export interface MigrationFile {
  /** The number in the name: `0002_protocol.sql` → 2. */
  version: number;
  /** File name, e.g. `0002_protocol.sql`. */
  name: string;
  path: string;
  /** Hex sha256 of the file's bytes. */
  checksum: string;
  sql: string;
}

const MIGRATION_NAME = /^(\d{4})_([A-Za-z0-9][A-Za-z0-9_.-]*)\.sql$/;

/**
 * Lists `NNNN_name.sql` files sorted by number. Any other `.sql` file directly in the
 * directory is an error rather than silently skipped: a misnamed migration would
 * otherwise never run. Subdirectories (e.g. `pgmq/`) and non-SQL files are ignored.
 */
export async function listMigrationFiles(dir: string): Promise<MigrationFile[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new MigrationsDirError(`Cannot read migrations directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const byVersion = new Map<number, MigrationFile>();
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.sql')) continue;
    const match = MIGRATION_NAME.exec(entry.name);
    if (match?.[1] === undefined) throw new MigrationFileNameError(entry.name);
    const version = Number(match[1]);
    const previous = byVersion.get(version);
    if (previous !== undefined) {
      const [first, second] = [previous.name, entry.name].sort() as [string, string];
      throw new DuplicateMigrationVersionError(version, [first, second]);
    }
    const path = join(dir, entry.name);
    const bytes = await readFile(path);
    byVersion.set(version, { version, name: entry.name, path, checksum: sha256Hex(bytes), sql: bytes.toString('utf8') });
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}
