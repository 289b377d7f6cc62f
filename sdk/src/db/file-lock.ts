import { randomUUID } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { LockTimeoutError } from '../errors.ts';
import { isProcessAlive } from './process-alive.ts';
import { sleep } from './sleep.ts';

/** Options of {@link acquireFileLock}. */
export interface FileLockOptions {
  /** Give up after this long; default 120 s (a first start includes initdb). */
  timeoutMs?: number;
  pollMs?: number;
  /** Called once when we start waiting for another holder. */
  onWait?: (holderPid: number | undefined) => void;
}

/** Releases a lock taken with {@link acquireFileLock}; safe to call twice. */
export type ReleaseLock = () => Promise<void>;

/** A lock file whose writer died before writing its pid is treated as stale after this. */
const EMPTY_LOCK_GRACE_MS = 5_000;
/** A breaker that died mid-break leaves its marker; others take over after this. */
const BREAK_MARKER_STALE_MS = 10_000;

/**
 * Takes an exclusive lock represented by a file created with `O_EXCL`. The file holds
 * `<pid>:<token>`; a lock whose pid is dead is stale and gets broken. Works across
 * processes and between concurrent callers in one process (the token differs).
 */
export async function acquireFileLock(path: string, options: FileLockOptions = {}): Promise<ReleaseLock> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const pollMs = options.pollMs ?? 50;
  const token = `${process.pid}:${randomUUID()}`;
  const deadline = Date.now() + timeoutMs;
  let announcedWait = false;

  for (;;) {
    if (await tryCreate(path, token)) {
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        // Only remove the file if it is still ours, never a successor's.
        if ((await readText(path)) === token) await unlinkIfPresent(path);
      };
    }

    const holder = await readText(path);
    if (holder === undefined) continue;
    const holderPid = parsePid(holder);
    if (await isStale(path, holderPid)) {
      await breakStaleLock(path, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockTimeoutError(
        `Timed out after ${Math.round(timeoutMs / 1000)} s waiting for lock ${path} held by pid ${holderPid ?? 'unknown'}`,
      );
    }
    if (!announcedWait) {
      announcedWait = true;
      options.onWait?.(holderPid);
    }
    await sleep(pollMs);
  }
}

async function tryCreate(path: string, token: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(token);
  } finally {
    await handle.close();
  }
  return true;
}

async function isStale(path: string, holderPid: number | undefined): Promise<boolean> {
  if (holderPid !== undefined) return !isProcessAlive(holderPid);
  // Empty or garbled: either being written right now, or its writer crashed.
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > EMPTY_LOCK_GRACE_MS;
}

/**
 * Removes a stale lock file. A second marker file serialises breakers, and the lock is
 * re-read under it, so a breaker that was slow never deletes a lock someone else just took.
 */
async function breakStaleLock(path: string, staleContent: string): Promise<void> {
  const marker = `${path}.break`;
  if (!(await tryCreate(marker, String(process.pid)))) {
    const info = await stat(marker).catch(() => undefined);
    if (info !== undefined && Date.now() - info.mtimeMs > BREAK_MARKER_STALE_MS) await unlinkIfPresent(marker);
    await sleep(10);
    return;
  }
  try {
    if ((await readText(path)) === staleContent) await unlinkIfPresent(path);
  } finally {
    await unlinkIfPresent(marker);
  }
}

function parsePid(content: string): number | undefined {
  const match = /^(\d+):/.exec(content);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
