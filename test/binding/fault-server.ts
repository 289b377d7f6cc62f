/**
 * The fault scenario's own PostgreSQL server: an embedded server in a scratch directory, so that
 * stopping it mid-stream disturbs no other test (the shared test server, other runners, other
 * processes). Runtime-neutral: the vitest, bun test and deno test runners of the fault scenario
 * all start one per run.
 */
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { startEmbeddedPostgres, stopEmbeddedPostgres } from '../../sdk/src/index.ts';
import { tempDir } from '../../sdk/test/support/temp-dir.ts';
import { bounded } from './helpers.ts';

/** Generous bounds: pg_ctl waits up to 60 s itself, and this machine may be busy. */
const START_STOP_TIMEOUT_MS = 60_000;

/** A private server that the scenario may stop and start again. */
export interface FaultServer {
  /** URL of its `postgres` database (unchanged by a restart: same port, same password). */
  readonly adminUrl: string;
  /** `pg_ctl stop -m fast`: every connection cut, in-flight transactions rolled back. */
  stop(): Promise<void>;
  /** Starts it again; fails if it came back on another URL (the cores' URLs would be wrong). */
  restart(): Promise<void>;
  /** Stops it and removes its directory; leaves the directory in place if it may still run. */
  release(): Promise<void>;
}

/** Starts a fresh embedded server in a scratch directory under the OS temp dir. */
export async function startFaultServer(): Promise<FaultServer> {
  const dir = await tempDir('tasker-fault');
  // As root the server runs as `postgres`, which must traverse every parent; mkdtemp makes 0700.
  await chmod(dir.path, 0o755);
  const stateDir = join(dir.path, 'pg');
  let adminUrl: string;
  try {
    adminUrl = (await bounded('starting the fault-test server', startEmbeddedPostgres({ stateDir }), START_STOP_TIMEOUT_MS)).url;
  } catch (error) {
    await stopEmbeddedPostgres({ stateDir }).then(() => dir.remove(), () => {});
    throw error;
  }
  return {
    adminUrl,
    stop: async () => {
      await bounded('stopping PostgreSQL', stopEmbeddedPostgres({ stateDir }), START_STOP_TIMEOUT_MS);
    },
    restart: async () => {
      const restarted = await bounded('starting PostgreSQL again', startEmbeddedPostgres({ stateDir }), START_STOP_TIMEOUT_MS);
      if (restarted.url !== adminUrl) {
        throw new Error(`the fault-test server came back on another URL (port ${restarted.port}); the cores cannot follow`);
      }
    },
    release: async () => {
      try {
        await bounded('stopping the fault-test server', stopEmbeddedPostgres({ stateDir }), START_STOP_TIMEOUT_MS);
      } catch (error) {
        // Never delete the data directory of a server that may still run.
        console.error(`[fault] could not stop the server in ${stateDir}; left in place: ${String(error)}`);
        return;
      }
      await dir.remove();
    },
  };
}
