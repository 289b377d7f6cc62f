import { readFileSync } from 'node:fs';

/**
 * Tells whether a process exists and is not a zombie. Zombies matter here: in
 * containers whose PID 1 does not reap, a crashed postmaster lingers as one and
 * `kill(pid, 0)` alone would call it alive forever.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = linuxProcessState(pid);
  return state !== 'Z' && state !== 'X';
}

/**
 * The command name of a process on Linux (`/proc/<pid>/comm`), undefined elsewhere or
 * when unreadable. Lets us tell a reused pid from a postmaster.
 */
export function processCommandName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function linuxProcessState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is parenthesised and may itself contain ") ", so split after the last one.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}
