/**
 * A postmaster.pid left by a crash whose pid now belongs to *another* PostgreSQL server (several
 * embedded servers on one machine are normal: one per checkout, the shared test server, a PG15 one;
 * pids repeat after a reboot or container restart). livePostmaster() only checks that the process is
 * called "postgres", so status reports the other server's pid as ours, and `db stop` shuts the other
 * server down. (The postmaster's cwd is its data directory, /proc/<pid>/cwd would tell them apart.)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedPostgresStatus, startEmbeddedPostgres, stopEmbeddedPostgres } from '../../sdk/src/index.ts';
import { runCli, scratch } from './helpers.ts';

let dir: Awaited<ReturnType<typeof scratch>>;
beforeAll(async () => {
  dir = await scratch('stalepid');
});
afterAll(async () => {
  await dir.cleanup();
});

describe.runIf(process.platform === 'linux')('stale postmaster.pid naming another server', () => {
  it('status says stopped, and `db stop` leaves the other server alone', async () => {
    const mine = dir.stateDir('mine');
    const other = dir.stateDir('other');
    // Our cluster ran once and is stopped; the other server (another project's) runs.
    const ours = await startEmbeddedPostgres({ stateDir: mine });
    const pidFile = join(mine, 'data', 'postmaster.pid');
    const stalePidFile = await readFile(pidFile, 'utf8');
    await stopEmbeddedPostgres({ stateDir: mine });
    const neighbour = await startEmbeddedPostgres({ stateDir: other });

    // Our server crashed long ago; its pid number now belongs to the other server's postmaster.
    await writeFile(pidFile, stalePidFile.replace(/^\d+/, String(neighbour.pid)));

    const status = await embeddedPostgresStatus({ stateDir: mine });
    const stop = await runCli(['db', 'stop', '--dir', mine], mine, 150_000);
    const neighbourAfterStop = (await embeddedPostgresStatus({ stateDir: other })).state;

    expect(
      { ourStatus: status.state, ourStatusPid: status.pid, stopSaid: stop.out.trim(), neighbourAfterStop },
      `our old port ${ours.port}, the other server's pid ${neighbour.pid}`,
    ).toEqual({ ourStatus: 'stopped', ourStatusPid: undefined, stopSaid: '[INFO] Embedded PostgreSQL is not running', neighbourAfterStop: 'running' });
  });
});
