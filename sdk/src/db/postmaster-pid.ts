import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What PostgreSQL records in `<PGDATA>/postmaster.pid` while it runs. */
export interface PostmasterPid {
  pid: number;
  port: number;
  socketDir: string;
  listenAddress: string;
  /** `starting`, `ready`, `stopping` or `standby` (empty on very old servers). */
  status: string;
}

/**
 * Parses postmaster.pid (line 1 pid, 4 port, 5 socket dir, 6 listen address, 8 status).
 * Undefined when the file is absent or still being written.
 */
export async function readPostmasterPid(dataDir: string): Promise<PostmasterPid | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return {
    pid,
    port: Number(lines[3] ?? 0),
    socketDir: lines[4]?.trim() ?? '',
    listenAddress: lines[5]?.trim() ?? '',
    status: lines[7]?.trim() ?? '',
  };
}
