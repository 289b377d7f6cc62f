import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository's `migrations/` directory. Resolved from this file's location, which
 * is `sdk/src/db/` when run from source and `sdk/dist/db/` when compiled: both sit three
 * levels below the repository root.
 */
export function defaultMigrationsDir(): string {
  return resolve(fileURLToPath(new URL('../../../migrations/', import.meta.url)));
}

/** `migrations/pgmq/`: the pinned PGMQ install script and its source.json. */
export function defaultPgmqDir(): string {
  return resolve(fileURLToPath(new URL('../../../migrations/pgmq/', import.meta.url)));
}
