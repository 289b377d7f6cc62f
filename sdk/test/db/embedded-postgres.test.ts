import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EmbeddedPostgresUnusableError,
  embeddedPostgresStatus,
  resolveDatabase,
  startEmbeddedPostgres,
  stopEmbeddedPostgres,
  withClient,
} from '../../src/index.ts';
import { postgresVersion, resolvePostgresBinaries } from '../../src/db/pg-binaries.ts';
import { EmbeddedPostgresBinariesMissingError } from '../../src/errors.ts';
import { tempDir, type TempDir } from '../support/temp-dir.ts';

// A server of its own, in its own state directory, so stopping it never disturbs the
// shared test server. It runs the programs the whole run uses: TASKER_PG_BIN_DIR's when set.
const binDirEnv = process.env.TASKER_PG_BIN_DIR === undefined ? {} : { TASKER_PG_BIN_DIR: process.env.TASKER_PG_BIN_DIR };
let dir: TempDir;
let stateDir: string;

beforeAll(async () => {
  dir = await tempDir('tasker-embedded');
  // As root the server runs as `postgres`, which must traverse every parent; mkdtemp makes 0700.
  await chmod(dir.path, 0o755);
  stateDir = join(dir.path, 'pg');
});

afterAll(async () => {
  await stopEmbeddedPostgres({ stateDir });
  await dir.remove();
});

/** A pid that certainly belongs to no process any more. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid ?? 999_999;
}

describe('embedded PostgreSQL', () => {
  it('reports stopped and uninitialised before the first start', async () => {
    const status = await embeddedPostgresStatus({ stateDir });
    expect(status).toMatchObject({ state: 'stopped', initialized: false, stateDir, dataDir: join(stateDir, 'data') });
  });

  it('starts, then reuses the running server on a second start', async () => {
    const first = await startEmbeddedPostgres({ stateDir });
    expect(first.reused).toBe(false);
    expect(first.url).toMatch(new RegExp(`^postgres://tasker:[^@]+@127\\.0\\.0\\.1:${first.port}/postgres$`));
    // server_version may carry a packager's suffix: "15.18 (Debian 15.18-0+deb12u1)".
    const version = await withClient(first.url, async (client) => (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v);
    expect(version?.split(' ')[0]).toBe(first.pgVersion);
    expect(first.pgVersion).toBe(await postgresVersion(resolvePostgresBinaries()));
    // What npm install brings is PostgreSQL 18, whatever this run uses.
    expect(await postgresVersion(resolvePostgresBinaries({}))).toMatch(/^18\./);

    const second = await startEmbeddedPostgres({ stateDir });
    expect(second).toMatchObject({ reused: true, pid: first.pid, port: first.port, url: first.url });

    const status = await embeddedPostgresStatus({ stateDir });
    expect(status).toMatchObject({ state: 'running', pid: first.pid, port: first.port, initialized: true, serverStatus: 'ready' });
    expect(status.redactedUrl).toBe(`postgres://tasker:***@127.0.0.1:${first.port}/postgres`);
  });

  it('keeps the credentials file private', async () => {
    expect((await stat(join(stateDir, 'server.json'))).mode & 0o777).toBe(0o600);
  });

  it('serialises concurrent starts: one starts, the other reuses', async () => {
    await stopEmbeddedPostgres({ stateDir });
    const handles = await Promise.all([startEmbeddedPostgres({ stateDir }), startEmbeddedPostgres({ stateDir })]);
    expect(handles.map((h) => h.reused).sort()).toEqual([false, true]);
    expect(handles[0]?.pid).toBe(handles[1]?.pid);
  });

  it('refuses a running server it cannot log into, and says how to stop it', async () => {
    const serverFile = join(stateDir, 'server.json');
    const original = await readFile(serverFile, 'utf8');
    const parsed = JSON.parse(original) as { password: string };
    await writeFile(serverFile, JSON.stringify({ ...parsed, password: 'not-the-password' }));
    try {
      const error = await startEmbeddedPostgres({ stateDir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EmbeddedPostgresUnusableError);
      expect((error as Error).message).toMatch(/cannot be used with the credentials.*tasker-ctl db stop/s);
      expect((error as Error).message).not.toContain('not-the-password');
    } finally {
      await writeFile(serverFile, original, { mode: 0o600 });
    }
  });

  it('stops, and stopping again is a no-op', async () => {
    const running = await embeddedPostgresStatus({ stateDir });
    expect(await stopEmbeddedPostgres({ stateDir })).toEqual({ wasRunning: true, pid: running.pid });
    expect((await embeddedPostgresStatus({ stateDir })).state).toBe('stopped');
    expect(await stopEmbeddedPostgres({ stateDir })).toEqual({ wasRunning: false });
  });

  it('starts over a postmaster.pid left by a crashed server', async () => {
    const pidFile = join(stateDir, 'data', 'postmaster.pid');
    await writeFile(pidFile, `${deadPid()}\n${join(stateDir, 'data')}\n0\n5432\n\n127.0.0.1\n0 0\nready   \n`);
    expect((await embeddedPostgresStatus({ stateDir })).state).toBe('stopped');
    const handle = await startEmbeddedPostgres({ stateDir });
    expect(handle.reused).toBe(false);
    await handle.stop();
  });

  it.runIf(process.platform === 'linux')('starts over a postmaster.pid whose pid now belongs to another program', async () => {
    const pidFile = join(stateDir, 'data', 'postmaster.pid');
    await writeFile(pidFile, `${process.pid}\n${join(stateDir, 'data')}\n0\n5432\n\n127.0.0.1\n0 0\nready   \n`);
    const handle = await startEmbeddedPostgres({ stateDir });
    expect(handle.reused).toBe(false);
    expect(handle.pid).not.toBe(process.pid);
    await handle.stop();
  });

  it('moves to another port when the recorded one is taken', async () => {
    const recorded = JSON.parse(await readFile(join(stateDir, 'server.json'), 'utf8')) as { port: number };
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(recorded.port, '127.0.0.1', resolve));
    try {
      const handle = await startEmbeddedPostgres({ stateDir });
      expect(handle.port).not.toBe(recorded.port);
      await withClient(handle.url, (client) => client.query('SELECT 1'));
      await handle.stop();
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('resolveDatabase prefers DATABASE_URL and otherwise releases only what it started', async () => {
    const external = await resolveDatabase({ env: { ...binDirEnv, DATABASE_URL: 'postgres://u:p@db.example:5432/app' }, stateDir });
    expect(external).toMatchObject({ url: 'postgres://u:p@db.example:5432/app' });
    expect(external.embedded).toBeUndefined();
    await external.release();
    expect((await embeddedPostgresStatus({ stateDir })).state).toBe('stopped');

    const owner = await resolveDatabase({ env: binDirEnv, stateDir });
    const guest = await resolveDatabase({ env: binDirEnv, stateDir });
    expect([owner.embedded?.reused, guest.embedded?.reused]).toEqual([false, true]);
    await guest.release();
    expect((await embeddedPostgresStatus({ stateDir })).state).toBe('running');
    await owner.release();
    expect((await embeddedPostgresStatus({ stateDir })).state).toBe('stopped');
  });

  it('runs the binaries in TASKER_PG_BIN_DIR, and names the variable when they are missing', async () => {
    // The bundled programs' own directory stands in for another installation (Debian's
    // /usr/lib/postgresql/15/bin, say): what is checked is that the variable is what gets run.
    const bundled = resolvePostgresBinaries({});
    const env = { TASKER_PG_BIN_DIR: bundled.binDir };
    expect(resolvePostgresBinaries(env)).toMatchObject({ binDir: bundled.binDir, packageName: `TASKER_PG_BIN_DIR (${bundled.binDir})` });
    const otherState = join(dir.path, 'pg-bin-dir');
    const started = await startEmbeddedPostgres({ stateDir: otherState, env });
    try {
      expect(started.reused).toBe(false);
      const version = await withClient(started.url, async (client) => (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v);
      expect(version?.split(' ')[0]).toBe(started.pgVersion);
    } finally {
      await stopEmbeddedPostgres({ stateDir: otherState, env });
    }
    expect((await embeddedPostgresStatus({ stateDir: otherState, env })).state).toBe('stopped');

    const nowhere = { TASKER_PG_BIN_DIR: join(dir.path, 'no-such-bin') };
    expect(() => resolvePostgresBinaries(nowhere)).toThrow(EmbeddedPostgresBinariesMissingError);
    await expect(startEmbeddedPostgres({ stateDir: join(dir.path, 'pg-nowhere'), env: nowhere })).rejects.toThrow(
      /TASKER_PG_BIN_DIR \(.*no-such-bin\) must name a PostgreSQL \(15 or later\) bin directory/,
    );
  });
});
