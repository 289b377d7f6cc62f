/**
 * A process whose orchestrator has stopped exits by itself at once, even when a connection to
 * its gRPC port had sent nothing yet (a TCP probe, a client in its handshake): the protocol
 * switch (sdk/src/server/grpc-server.ts) arms a 10 s first-bytes timer per connection, which the
 * server's close must clear (it destroys the socket, which emits 'close', not 'end').
 *
 * Each case runs an orchestrator (built SDK, sdk/dist) in a child process that returns without
 * process.exit once stop() resolved; the control case opens no idle connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChild } from '../support/child-process.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const ORCHESTRATOR = new URL('../../sdk/dist/orchestration/index.js', import.meta.url).href;

const script = (idleConnection: boolean): string => `
import net from 'node:net';
import { Orchestrator } from ${JSON.stringify(ORCHESTRATOR)};
const orchestrator = new Orchestrator({
  databaseUrl: process.env.DATABASE_URL, deploymentMode: 'no-migrate', handleSignals: false,
  logWriter: () => {}, mode: 'PollingOnly', web: false, grpc: { host: '127.0.0.1', port: 0 },
});
await orchestrator.start();
let socket;
if (${idleConnection}) {
  socket = net.connect(orchestrator.servers.grpc.port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  await new Promise((resolve) => setTimeout(resolve, 200)); // accepted by the server, nothing sent
}
await orchestrator.stop();
socket?.destroy();
console.log('STOPPED');
`;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

describe('a process whose orchestrator stopped exits by itself at once', () => {
  it.each([false, true])('idle gRPC connection open at stop(): %s', { timeout: 60_000 }, async (idle) => {
    const started = Date.now();
    let stoppedAt = 0;
    const run = await runChild(process.execPath, ['--input-type=module', '-e', script(idle)], {
      timeoutMs: 40_000,
      exitAfter: { output: /STOPPED/, withinMs: 4_000 },
      env: { ...process.env, DATABASE_URL: db.url },
    });
    stoppedAt = Date.now();
    expect(run.stdout, `stderr:\n${run.stderr}`).toContain('STOPPED');
    expect(run.hung, `still running 4 s after Orchestrator.stop() resolved (ran ${(stoppedAt - started) / 1000} s); stderr:\n${run.stderr}`).toBe(false);
    expect(run.code).toBe(0);
  });
});
