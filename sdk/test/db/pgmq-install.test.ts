import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PgmqNotInstalledError,
  PgmqScriptError,
  defaultPgmqDir,
  detectPgmq,
  ensurePgmq,
  loadPgmqInstallScript,
  pgmqVersion,
  readPgmqSource,
  silentLogSink,
  withClient,
  type EnsurePgmqOptions,
} from '../../src/index.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { tempDir } from '../support/temp-dir.ts';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function emptyDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ template: false });
  cleanups.push(() => db.drop());
  return db;
}

function ensure(db: TestDatabase, options?: EnsurePgmqOptions) {
  const lines: string[] = [];
  const promise = withClient(db.url, (client) => ensurePgmq(client, (line) => lines.push(line), options));
  return { lines, promise };
}

describe('the pinned PGMQ script', () => {
  it('is present and matches source.json', async () => {
    const source = await readPgmqSource(defaultPgmqDir());
    expect(source).toMatchObject({ crate: 'pgmq', crate_version: '0.33.7', pgmq_version: '1.11.1' });
    const script = await loadPgmqInstallScript(defaultPgmqDir());
    expect(script.sql).toContain('CREATE FUNCTION pgmq.send(');
  });
});

describe('ensurePgmq', () => {
  it('installs PGMQ SQL-only into an empty database, after which queues work', async () => {
    const db = await emptyDatabase();
    const { lines, promise } = ensure(db);
    const status = await promise;
    expect(status).toEqual({
      version: '1.11.1',
      method: 'sql',
      source: 'pgmq-1.11.1.sql from crate pgmq 0.33.7',
      installedNow: true,
    });
    expect(lines.at(-1)).toMatch(/^\[SUCCESS\] Installed PGMQ 1\.11\.1 \(sql\) in \d+ ms$/);

    const recorded = await db.pool.query('SELECT name, version FROM pgmq.__pgmq_migrations');
    expect(recorded.rows).toEqual([{ name: 'pgmq.sql', version: '1.11.1' }]);

    await db.pool.query(`SELECT pgmq.create('t')`);
    const sent = await db.pool.query<{ id: string }>(`SELECT pgmq.send('t', '{"hello":"world"}'::jsonb) AS id`);
    const read = await db.pool.query<{ msg_id: string; message: unknown }>(`SELECT msg_id, message FROM pgmq.read('t', 30, 1)`);
    expect(read.rows).toEqual([{ msg_id: sent.rows[0]?.id, message: { hello: 'world' } }]);

    const client = await db.pool.connect();
    try {
      expect(await pgmqVersion(client)).toBe('1.11.1');
      expect(await ensurePgmq(client, silentLogSink)).toEqual({
        version: '1.11.1',
        method: 'sql',
        source: 'pgmq.__pgmq_migrations',
        installedNow: false,
      });
    } finally {
      client.release();
    }
  });

  it('with install: false on an empty database fails and says how to fix it', async () => {
    const db = await emptyDatabase();
    const error = await ensure(db, { install: false }).promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PgmqNotInstalledError);
    const message = (error as Error).message;
    expect(message).toContain(db.name);
    expect(message).toContain('npm run pgmq:fetch');
    expect(message).toContain('node scripts/fetch-pgmq.mjs');
    expect(message).toContain('CREATE EXTENSION pgmq');
    expect(message).toMatch(/grant/i);
    const schema = await db.pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'pgmq'`);
    expect(schema.rowCount).toBe(0);
  });

  it('says how to fetch the script when it is missing', async () => {
    const db = await emptyDatabase();
    const dir = await tempDir('tasker-pgmq-missing');
    cleanups.push(() => dir.remove());
    await copyFile(join(defaultPgmqDir(), 'source.json'), join(dir.path, 'source.json'));
    const error = await ensure(db, { pgmqDir: dir.path }).promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PgmqNotInstalledError);
    expect((error as Error).message).toMatch(/pgmq-1\.11\.1\.sql is missing: run `npm run pgmq:fetch`/);
  });

  it('refuses a script whose checksum differs from source.json', async () => {
    const dir = await tempDir('tasker-pgmq-tampered');
    cleanups.push(() => dir.remove());
    await copyFile(join(defaultPgmqDir(), 'source.json'), join(dir.path, 'source.json'));
    const original = await readFile(join(defaultPgmqDir(), 'pgmq-1.11.1.sql'), 'utf8');
    await writeFile(join(dir.path, 'pgmq-1.11.1.sql'), `${original}\nDROP TABLE everything;`);
    await expect(loadPgmqInstallScript(dir.path)).rejects.toThrow(PgmqScriptError);
    await expect(loadPgmqInstallScript(dir.path)).rejects.toThrow(/sha256 .* but source\.json pins/);
  });

  it('installs exactly once when several callers race', async () => {
    const db = await emptyDatabase();
    const statuses = await Promise.all(Array.from({ length: 3 }, () => ensure(db).promise));
    expect(statuses.filter((status) => status.installedNow)).toHaveLength(1);
    expect(new Set(statuses.map((status) => status.version))).toEqual(new Set(['1.11.1']));
    const recorded = await db.pool.query('SELECT name FROM pgmq.__pgmq_migrations');
    expect(recorded.rowCount).toBe(1);
  });

  it('reports nothing for a database without PGMQ', async () => {
    const db = await emptyDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      expect(await detectPgmq(client)).toBeUndefined();
      expect(await pgmqVersion(client)).toBeUndefined();
    } finally {
      await client.end();
    }
  });
});
