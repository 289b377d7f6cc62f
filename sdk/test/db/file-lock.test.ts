import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockTimeoutError } from '../../src/index.ts';
import { acquireFileLock } from '../../src/db/file-lock.ts';
import { tempDir, type TempDir } from '../support/temp-dir.ts';

let dir: TempDir;
let lockPath: string;

beforeEach(async () => {
  dir = await tempDir('tasker-lock');
  lockPath = join(dir.path, 'lock');
});

afterEach(async () => {
  await dir.remove();
});

describe('acquireFileLock', () => {
  it('serialises holders and removes its file on release', async () => {
    const order: string[] = [];
    const holder = async (name: string) => {
      const release = await acquireFileLock(lockPath, { pollMs: 5 });
      order.push(`${name}+`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push(`${name}-`);
      await release();
    };
    await Promise.all([holder('a'), holder('b'), holder('c')]);
    for (let i = 0; i < order.length; i += 2) expect(order[i]?.slice(0, 1)).toBe(order[i + 1]?.slice(0, 1));
    await expect(readFile(lockPath)).rejects.toThrow(/ENOENT/);
  });

  it('breaks a lock whose holder died', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(lockPath, `${dead}:stale-token`);
    const release = await acquireFileLock(lockPath, { timeoutMs: 2_000 });
    expect(await readFile(lockPath, 'utf8')).toMatch(new RegExp(`^${process.pid}:`));
    await release();
  });

  it('times out on a live holder, naming it', async () => {
    const release = await acquireFileLock(lockPath);
    try {
      const error = await acquireFileLock(lockPath, { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockTimeoutError);
      expect((error as Error).message).toContain(`held by pid ${process.pid}`);
    } finally {
      await release();
    }
  });
});
