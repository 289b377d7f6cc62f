import { existsSync } from 'node:fs';
import { readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EmbeddedPostgresStartError, EmbeddedPostgresStateError, EmbeddedPostgresUnusableError } from '../errors.ts';
import { redactDatabaseUrl, redactPasswordIn } from './database-url.ts';
import { errorCode } from './describe-error.ts';
import { EMBEDDED_HOST, initCluster, livePostmaster, pgCtlStart, pgCtlStop, prepareStateDir } from './embedded-cluster.ts';
import { embeddedPaths, resolveEmbeddedStateDir, type EmbeddedLocationOptions, type EmbeddedPaths } from './embedded-paths.ts';
import { acquireFileLock } from './file-lock.ts';
import { findFreePort, isPortFree } from './free-port.ts';
import { logLine, silentLogSink, type LogSink } from './log.ts';
import { postgresVersion, resolvePostgresBinaries, type PostgresBinaries } from './pg-binaries.ts';
import { readPostmasterPid, type PostmasterPid } from './postmaster-pid.ts';
import { probeConnection, type ProbeResult } from './probe-connection.ts';
import { isProcessAlive } from './process-alive.ts';
import { newServerFile, readServerFile, serverUrl, writeServerFile, type ServerFile } from './server-file.ts';
import { sleep } from './sleep.ts';

/** Options of the embedded-server functions. */
export interface EmbeddedPostgresOptions extends EmbeddedLocationOptions {
  /** Receives `[INFO]` lines about initdb, start and reuse. */
  log?: LogSink;
  /** How long to wait for another process that is starting/stopping the same server. */
  lockTimeoutMs?: number;
  /** Passed to `pg_ctl -t`; default 60. */
  startTimeoutSeconds?: number;
}

/** A running embedded server, as returned by {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresHandle {
  /** Full URL including the password, for drivers only. */
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  stateDir: string;
  pgVersion: string;
  /** True when the server was already running and this call only attached to it. */
  reused: boolean;
  /** Stops the server (whoever started it). */
  stop(): Promise<void>;
}

/** What {@link embeddedPostgresStatus} reports. */
export interface EmbeddedPostgresStatus {
  state: 'running' | 'stopped';
  stateDir: string;
  dataDir: string;
  logFile: string;
  /** True once initdb has created the cluster. */
  initialized: boolean;
  pid?: number;
  port?: number;
  pgVersion?: string;
  /** PostgreSQL's own word from postmaster.pid: `ready`, `starting`, `stopping`. */
  serverStatus?: string;
  /** Redacted URL; print it, it holds no password. */
  redactedUrl?: string;
}

/** What {@link stopEmbeddedPostgres} did. */
export interface StopResult {
  wasRunning: boolean;
  pid?: number;
}

/**
 * Starts the project's embedded PostgreSQL, or attaches to it when it already runs.
 * Idempotent and safe when several processes call it at once: all of them serialise on a
 * lock file in the state directory, the first one starts the server and the others reuse it.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresHandle> {
  const paths = embeddedPaths(resolveEmbeddedStateDir(options));
  const log = options.log ?? silentLogSink;
  const startTimeoutSeconds = options.startTimeoutSeconds ?? 60;
  await prepareStateDir(paths.stateDir);
  const release = await acquireFileLock(paths.lockFile, {
    timeoutMs: options.lockTimeoutMs ?? 180_000,
    onWait: (pid) => logLine(log, 'INFO', `Waiting for pid ${pid ?? '?'} to finish starting or stopping the embedded server`),
  });
  try {
    const running = await attachToRunningServer(paths, startTimeoutSeconds);
    if (running !== undefined) {
      logLine(log, 'INFO', `Reusing embedded PostgreSQL (pid ${running.pid}) on port ${running.port}`);
      return running;
    }
    return await startServer(paths, resolvePostgresBinaries(options.env), startTimeoutSeconds, log);
  } finally {
    await release();
  }
}

/** The file `tasker-ctl db start` leaves: the server runs until `db stop`, whoever started it. */
function pinFile(stateDir: string): string {
  return join(stateDir, 'keep-running');
}

/**
 * Marks the server to keep running until {@link stopEmbeddedPostgres}: a command that started it
 * for itself (the demo, a worker) then leaves it running when it finishes.
 */
export async function pinEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<void> {
  const paths = embeddedPaths(resolveEmbeddedStateDir(options));
  await writeFile(pinFile(paths.stateDir), `pinned by tasker-ctl db start at ${new Date().toISOString()}\n`);
}

/** True when `tasker-ctl db start` asked for the server to keep running. */
export function isEmbeddedPostgresPinned(stateDir: string): boolean {
  return existsSync(pinFile(stateDir));
}

/** Stops the embedded server if it runs; a no-op otherwise. Clears the pin of `db start`. */
export async function stopEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<StopResult> {
  const paths = embeddedPaths(resolveEmbeddedStateDir(options));
  if (!existsSync(paths.stateDir)) return { wasRunning: false };
  const release = await acquireFileLock(paths.lockFile, { timeoutMs: options.lockTimeoutMs ?? 180_000 });
  try {
    await rm(pinFile(paths.stateDir), { force: true });
    const postmaster = await livePostmaster(paths.dataDir);
    if (postmaster === undefined) return { wasRunning: false };
    await pgCtlStop(paths, resolvePostgresBinaries(options.env), postmaster.pid);
    logLine(options.log ?? silentLogSink, 'INFO', `Stopped embedded PostgreSQL (pid ${postmaster.pid})`);
    return { wasRunning: true, pid: postmaster.pid };
  } finally {
    await release();
  }
}

/** Reports whether the embedded server runs, without starting or locking anything. */
export async function embeddedPostgresStatus(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresStatus> {
  const paths = embeddedPaths(resolveEmbeddedStateDir(options));
  const server = await readServerFile(paths.serverFile).catch(() => undefined);
  const base: EmbeddedPostgresStatus = {
    state: 'stopped',
    stateDir: paths.stateDir,
    dataDir: paths.dataDir,
    logFile: paths.logFile,
    initialized: existsSync(join(paths.dataDir, 'PG_VERSION')),
    ...(server === undefined ? {} : { pgVersion: server.pgVersion, port: server.port }),
  };
  const postmaster = await livePostmaster(paths.dataDir).catch(() => undefined);
  if (postmaster === undefined) return base;
  return {
    ...base,
    state: 'running',
    pid: postmaster.pid,
    port: postmaster.port,
    serverStatus: postmaster.status,
    ...(server === undefined ? {} : { redactedUrl: redactDatabaseUrl(serverUrl(server, postmaster.port)) }),
  };
}

async function attachToRunningServer(paths: EmbeddedPaths, startTimeoutSeconds: number): Promise<EmbeddedPostgresHandle | undefined> {
  const recorded = await readPostmasterPid(paths.dataDir);
  if (recorded === undefined) return undefined;
  const postmaster = await livePostmaster(paths.dataDir);
  if (postmaster === undefined) {
    // The pid is dead (PostgreSQL clears that itself on start) or was reused by another
    // program, which PostgreSQL would mistake for a live postmaster: remove the file.
    if (isProcessAlive(recorded.pid)) await unlink(join(paths.dataDir, 'postmaster.pid')).catch(() => {});
    return undefined;
  }
  const howToStop =
    `Stop it with \`tasker-ctl db stop\` (or \`kill -INT ${postmaster.pid}\`), ` +
    `or point TASKER_EMBEDDED_PG_DIR at another directory.`;
  const server = await readServerFile(paths.serverFile);
  if (server === undefined) {
    throw new EmbeddedPostgresUnusableError(
      `PostgreSQL (pid ${postmaster.pid}) runs on ${paths.dataDir} but ${paths.serverFile} with its credentials is missing. ${howToStop}`,
    );
  }
  const url = serverUrl(server, postmaster.port || server.port);
  // A server that is still starting (or recovering) gets the start timeout to become ready.
  const patienceMs = postmaster.status === 'ready' ? 5_000 : startTimeoutSeconds * 1000;
  const probe = await probeUntil(url, Date.now() + patienceMs);
  if (!probe.ok) {
    throw new EmbeddedPostgresUnusableError(
      `PostgreSQL (pid ${postmaster.pid}, port ${postmaster.port}) runs on ${paths.dataDir} but cannot be used with ` +
        `the credentials in ${paths.serverFile}: ${redactPasswordIn(probe.error.message, url)}. ${howToStop}`,
      { cause: probe.error },
    );
  }
  return handle(paths, server, postmaster, url, true);
}

async function startServer(
  paths: EmbeddedPaths,
  binaries: PostgresBinaries,
  startTimeoutSeconds: number,
  log: LogSink,
): Promise<EmbeddedPostgresHandle> {
  const pgVersion = await postgresVersion(binaries);
  let server = await readServerFile(paths.serverFile);
  const versionFile = join(paths.dataDir, 'PG_VERSION');
  const initialized = existsSync(versionFile);

  if (initialized) {
    if (server === undefined) {
      throw new EmbeddedPostgresStateError(
        `${paths.dataDir} holds a cluster but ${paths.serverFile} with its credentials is missing; ` +
          `delete ${paths.stateDir} to start over with an empty server`,
      );
    }
    const clusterMajor = (await readFile(versionFile, 'utf8')).trim();
    if (clusterMajor !== pgVersion.split('.')[0]) {
      throw new EmbeddedPostgresStateError(
        `${paths.dataDir} was initialised by PostgreSQL ${clusterMajor} but the binaries of ${binaries.packageName} are ${pgVersion}; ` +
          `delete ${paths.stateDir} to start over with an empty server, or point TASKER_EMBEDDED_PG_DIR at another directory`,
      );
    }
  }
  // Credentials are written before initdb so a crash between the two leaves a state we can resume.
  server = { ...(server ?? newServerFile(await findFreePort(EMBEDDED_HOST), pgVersion)), pgVersion };
  await writeServerFile(paths.serverFile, server);
  if (!initialized) await initCluster(paths, server, binaries, log);

  let port = (await isPortFree(server.port, EMBEDDED_HOST)) ? server.port : await findFreePort(EMBEDDED_HOST);
  for (let attempt = 1; ; attempt++) {
    if (port !== server.port) {
      server = { ...server, port };
      await writeServerFile(paths.serverFile, server);
    }
    const outcome = await pgCtlStart(paths, binaries, port, startTimeoutSeconds);
    if (outcome.ok) break;
    // Someone may have taken the port between our check and postgres's bind.
    if (attempt === 1 && outcome.portTaken) {
      port = await findFreePort(EMBEDDED_HOST);
      continue;
    }
    throw new EmbeddedPostgresStartError(outcome.message);
  }

  const url = serverUrl(server, port);
  const postmaster = await readPostmasterPid(paths.dataDir);
  const probe = await probeUntil(url, Date.now() + startTimeoutSeconds * 1000);
  if (postmaster === undefined || !probe.ok) {
    const reason = probe.ok ? 'postmaster.pid is missing' : redactPasswordIn(probe.error.message, url);
    throw new EmbeddedPostgresStartError(
      `PostgreSQL started on port ${port} but does not accept connections: ${reason}. See ${paths.logFile}`,
    );
  }
  logLine(log, 'INFO', `Started embedded PostgreSQL ${pgVersion} (pid ${postmaster.pid}) on port ${port}`);
  return handle(paths, server, postmaster, url, false);
}

async function probeUntil(url: string, deadline: number): Promise<ProbeResult> {
  for (;;) {
    const probe = await probeConnection(url);
    if (probe.ok || Date.now() >= deadline || !isStartingUp(probe.error)) return probe;
    await sleep(200);
  }
}

/** Errors a server gives while still starting or recovering, as opposed to refusing us. */
function isStartingUp(error: Error): boolean {
  const code = errorCode(error);
  return code === '57P03' || code === 'ECONNREFUSED' || code === 'ECONNRESET';
}

function handle(
  paths: EmbeddedPaths,
  server: ServerFile,
  postmaster: PostmasterPid,
  url: string,
  reused: boolean,
): EmbeddedPostgresHandle {
  return {
    url,
    port: postmaster.port || server.port,
    pid: postmaster.pid,
    dataDir: paths.dataDir,
    stateDir: paths.stateDir,
    pgVersion: server.pgVersion,
    reused,
    stop: async () => {
      await stopEmbeddedPostgres({ stateDir: paths.stateDir });
    },
  };
}
