/**
 * Who uses the embedded server: one file per process handle that started or attached to it
 * (`<stateDir>/users/<pid>-<n>`). The process that started the server stops it at the end only
 * when no other live process is registered, so a worker in another terminal, a second demo or the
 * test suite is not cut off. Entries of processes that died are ignored (and swept).
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive } from './process-alive.ts';

let handles = 0;

function usersDir(stateDir: string): string {
  return join(stateDir, 'users');
}

/** Registers this process as a user of the server; returns the entry to unregister. */
export async function registerEmbeddedUser(stateDir: string): Promise<string> {
  handles += 1;
  const entry = `${process.pid}-${handles}`;
  await mkdir(usersDir(stateDir), { recursive: true });
  await writeFile(join(usersDir(stateDir), entry), '');
  return entry;
}

/** Removes an entry {@link registerEmbeddedUser} made. */
export async function unregisterEmbeddedUser(stateDir: string, entry: string): Promise<void> {
  await rm(join(usersDir(stateDir), entry), { force: true });
}

/** How many other entries belong to live processes (this process's other handles included). */
export async function otherEmbeddedUsers(stateDir: string, entry: string): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir(usersDir(stateDir));
  } catch {
    return 0;
  }
  let live = 0;
  for (const other of entries) {
    if (other === entry) continue;
    const pid = Number(other.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) live += 1;
    else await rm(join(usersDir(stateDir), other), { force: true });
  }
  return live;
}
