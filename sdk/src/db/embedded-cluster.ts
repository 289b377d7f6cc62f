import { appendFile, chmod, chown, mkdir, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedPostgresStartError, EmbeddedPostgresStopError } from '../errors.ts';
import type { EmbeddedPaths } from './embedded-paths.ts';
import { logLine, type LogSink } from './log.ts';
import { runningAsRoot, serverProcessIdentity } from './os-user.ts';
import type { PostgresBinaries } from './pg-binaries.ts';
import { readPostmasterPid, type PostmasterPid } from './postmaster-pid.ts';
import { isProcessAlive, processCommandName } from './process-alive.ts';
import { runProcess, type ProcessIdentity } from './run-process.ts';
import type { ServerFile } from './server-file.ts';

/** The embedded server listens on loopback only. */
export const EMBEDDED_HOST = '127.0.0.1';
/** Linux's sun_path holds 108 bytes including the terminator; stay clear of it. */
const MAX_SOCKET_PATH = 100;
/** Enough headroom for worker pools of parallel test files and concurrent runners. */
const MAX_CONNECTIONS = 200;

/** Outcome of {@link pgCtlStart}; failures carry a message ready for an error. */
export type PgCtlStartOutcome = { ok: true } | { ok: false; portTaken: boolean; message: string };

/**
 * Creates the state directory. As root the server runs as another user who must be able
 * to traverse it (a directory made by mkdtemp is 0700), so execute bits are added; the
 * credentials file inside stays 0600.
 */
export async function prepareStateDir(stateDir: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: runningAsRoot() ? 0o755 : 0o700 });
  if (runningAsRoot()) {
    const { mode } = await stat(stateDir);
    if ((mode & 0o011) !== 0o011) await chmod(stateDir, (mode & 0o777) | 0o011);
  }
}

/**
 * The postmaster recorded in postmaster.pid, if that process is alive, is a postgres, and serves
 * this data directory. Pids are reused after a crash or a restart, and several embedded servers
 * run side by side (one per checkout, the test servers): a stale file naming another server's pid
 * must not make that server look like ours, or `db stop` would stop it.
 */
export async function livePostmaster(dataDir: string): Promise<PostmasterPid | undefined> {
  const postmaster = await readPostmasterPid(dataDir);
  if (postmaster === undefined || !isProcessAlive(postmaster.pid)) return undefined;
  const command = processCommandName(postmaster.pid);
  if (command !== undefined && command !== 'postgres') return undefined;
  const servedDir = await processWorkingDirectory(postmaster.pid);
  return servedDir === undefined || servedDir === (await realpath(dataDir).catch(() => dataDir)) ? postmaster : undefined;
}

/** A process's working directory (a postmaster's is its data directory); undefined where /proc cannot say. */
async function processWorkingDirectory(pid: number): Promise<string | undefined> {
  try {
    return await readlink(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** Runs initdb into an empty data directory owned by the server's OS user. */
export async function initCluster(paths: EmbeddedPaths, server: ServerFile, binaries: PostgresBinaries, log: LogSink): Promise<void> {
  const identity = await serverProcessIdentity();
  await rm(paths.dataDir, { recursive: true, force: true });
  await mkdir(paths.dataDir, { mode: 0o700 });
  // initdb reads the password from a file, so it never appears in a process listing.
  const passwordFile = join(paths.stateDir, `initdb-password.${process.pid}`);
  await writeFile(passwordFile, `${server.password}\n`, { mode: 0o600 });
  if (identity !== undefined) {
    await chown(paths.dataDir, identity.uid, identity.gid);
    await chown(passwordFile, identity.uid, identity.gid);
  }
  try {
    const result = await runProcess(
      binaries.initdb,
      ['-D', paths.dataDir, '-U', server.user, '--auth=scram-sha-256', `--pwfile=${passwordFile}`, '-E', 'UTF8', '--locale=C'],
      { identity, timeoutMs: 180_000 },
    );
    if (result.code !== 0) {
      const hint =
        identity === undefined
          ? ''
          : ` (initdb runs as OS user ${identity.name}, which must be able to traverse every parent of ${paths.stateDir} ` +
            `and of ${binaries.binDir}; set TASKER_EMBEDDED_PG_DIR to a directory under ${tmpdir()} if it cannot)`;
      throw new EmbeddedPostgresStartError(
        `initdb failed for ${paths.dataDir} (exit ${result.code ?? result.signal})${hint}: ${(result.stderr || result.stdout).trim()}`,
      );
    }
  } finally {
    await rm(passwordFile, { force: true });
  }
  logLine(log, 'INFO', `Initialised a PostgreSQL ${server.pgVersion} cluster in ${paths.dataDir}`);
}

/** `pg_ctl start -w` on the given port, as the data directory's owner when we are root. */
export async function pgCtlStart(
  paths: EmbeddedPaths,
  binaries: PostgresBinaries,
  port: number,
  startTimeoutSeconds: number,
): Promise<PgCtlStartOutcome> {
  const identity = await serverProcessIdentity(paths.dataDir);
  await prepareRuntimeFiles(paths, identity);
  const result = await runProcess(
    binaries.pgCtl,
    ['start', '-D', paths.dataDir, '-l', paths.logFile, '-w', '-t', String(startTimeoutSeconds), '-o', postgresOptions(paths, port)],
    { identity, timeoutMs: (startTimeoutSeconds + 30) * 1000 },
  );
  if (result.code === 0) return { ok: true };
  const tail = await logTail(paths.logFile);
  return {
    ok: false,
    portTaken: /could not bind|Address already in use/i.test(tail),
    message:
      `pg_ctl start failed for ${paths.dataDir} (exit ${result.code ?? result.signal}): ${(result.stderr || result.stdout).trim()}\n` +
      `Last lines of ${paths.logFile}:\n${tail}`,
  };
}

/** `pg_ctl stop -m fast -w`; fails only if the postmaster is still alive afterwards. */
export async function pgCtlStop(paths: EmbeddedPaths, binaries: PostgresBinaries, pid: number): Promise<void> {
  const identity = await serverProcessIdentity(paths.dataDir);
  const result = await runProcess(binaries.pgCtl, ['stop', '-D', paths.dataDir, '-m', 'fast', '-w', '-t', '60'], {
    identity,
    timeoutMs: 90_000,
  });
  if (result.code !== 0 && isProcessAlive(pid)) {
    throw new EmbeddedPostgresStopError(
      `pg_ctl stop failed for ${paths.dataDir} (pid ${pid}): ${(result.stderr || result.stdout).trim()}`,
    );
  }
}

/** The server writes its log and socket as its own OS user, so those must be its own. */
async function prepareRuntimeFiles(paths: EmbeddedPaths, identity: ProcessIdentity | undefined): Promise<void> {
  await mkdir(paths.socketDir, { recursive: true, mode: 0o700 });
  await appendFile(paths.logFile, '', { mode: 0o600 });
  if (identity !== undefined) {
    await chown(paths.socketDir, identity.uid, identity.gid);
    await chown(paths.logFile, identity.uid, identity.gid);
  }
}

/**
 * The `-o` string pg_ctl hands to postgres through `sh -c`, hence the quoting. A socket
 * path too long for the kernel would make postgres refuse to start, so we then go TCP-only.
 */
function postgresOptions(paths: EmbeddedPaths, port: number): string {
  const socketPath = join(paths.socketDir, `.s.PGSQL.${port}`);
  const socketDir = socketPath.length > MAX_SOCKET_PATH ? '' : paths.socketDir;
  return [`-p ${port}`, `-h ${EMBEDDED_HOST}`, `-k ${shellQuote(socketDir)}`, `-c max_connections=${MAX_CONNECTIONS}`].join(' ');
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

async function logTail(logFile: string, lines = 20): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
