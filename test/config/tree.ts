/**
 * Throwaway config trees for the tests: a temp directory laid out like config/tasker, with the
 * files a test names, removed afterwards.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's own tree. */
export const REPO_TREE = fileURLToPath(new URL('../../config/tasker', import.meta.url));

/** A temp directory with `files` (path relative to it → TOML text). */
export interface TempTree {
  root: string;
  /** Writes (or overwrites) one more file; returns its path. */
  write(path: string, text: string): Promise<string>;
  remove(): Promise<void>;
}

export async function tempTree(files: Record<string, string> = {}): Promise<TempTree> {
  const root = await mkdtemp(join(tmpdir(), 'tasker-config-'));
  const write = async (path: string, text: string): Promise<string> => {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, text);
    return full;
  };
  for (const [path, text] of Object.entries(files)) await write(path, text);
  return { root, write, remove: () => rm(root, { recursive: true, force: true }) };
}
