/**
 * A server whose port is taken ends the start of its service with an error naming the setting to
 * change, and leaves nothing running: no other server of the service, no connected core. Once
 * listening, an error the server emits is reported, not fatal.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineHandler } from '../../sdk/src/handler/index.ts';
import { ServerListenError } from '../../sdk/src/server/index.ts';
import { listen } from '../../sdk/src/server/listen.ts';
import { Worker } from '../../sdk/src/worker/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';
import { eventually } from './clients.ts';

let db: TestDatabase;
let holder: net.Server;
let taken: number;

/** A port that was free a moment ago (bound, then released). */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, template('t', [{ name: 's', handler: 'listen.h' }], 'listen_ns'));
  holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const address = holder.address();
  taken = typeof address === 'object' && address !== null ? address.port : 0;
});

afterAll(async () => {
  await new Promise((resolve) => holder.close(resolve));
  await db.drop();
});

describe('a taken port', () => {
  it('fails Worker.start() naming the setting, and frees the REST port it had bound', async () => {
    const restPort = await freePort();
    const worker = new Worker({
      databaseUrl: db.url,
      namespaces: ['listen_ns'],
      handlers: [defineHandler('listen.h', () => 1)],
      handleSignals: false,
      logWriter: () => {},
      web: { host: '127.0.0.1', port: restPort },
      grpc: { host: '127.0.0.1', port: taken },
    });
    const error = await worker.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerListenError);
    expect((error as Error).message).toBe(
      `the worker gRPC server cannot listen on 127.0.0.1:${taken}: port ${taken} is already in use: stop what holds it, ` +
        'or set worker.grpc.port (TASKER_WORKER_GRPC_PORT) to another port (0: any free port)',
    );
    expect(worker.stats().state).toBe('stopped');
    await worker.whenStopped();
    // The REST server it had started is closed again: its port can be bound.
    const again = net.createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(restPort, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => again.close(resolve));
    // The core's connections were closed: no session but this test's own is left on the database.
    await eventually('the worker core to close its connections', async () => {
      const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]);
      return Number(rows[0]?.n) === 0;
    }, 10_000);
  });
});

describe('a listening server', () => {
  it('hands an error it emits later to onError instead of throwing it (which would end the process)', async () => {
    const server = net.createServer((socket) => socket.end('ok\n'));
    const errors: Error[] = [];
    await listen(server, { host: '127.0.0.1', port: 0, setting: 'test.port', what: 'test server', onError: (error) => errors.push(error) });
    try {
      // What node:net does with an accept failure libuv does not absorb (ENOBUFS, say): emit it.
      const failure = Object.assign(new Error('accept ENOBUFS'), { code: 'ENOBUFS' });
      expect(() => server.emit('error', failure)).not.toThrow();
      expect(errors).toEqual([failure]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
