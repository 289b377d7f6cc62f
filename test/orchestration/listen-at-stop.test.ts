/**
 * Orchestrator.stop() leaves no LISTEN connection attempt behind: when the wake listener's
 * connection was lost and its reconnect is still connecting (the database accepted the socket but
 * has not answered), stop() abandons that attempt instead of resolving while it stays open and
 * holds the process until its connect timeout.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { DbProxy } from '../support/db-proxy.ts';
import { sleep } from '../support/queue.ts';

let db: TestDatabase;
let proxy: DbProxy;

beforeAll(async () => {
  db = await createTestDatabase();
  proxy = await DbProxy.start(db.url);
});

afterAll(async () => {
  await proxy.destroy();
  await db.drop();
});

it('stop() abandons a LISTEN reconnect that is still connecting', { timeout: 30_000 }, async () => {
  const lost: string[] = [];
  const orchestrator = new Orchestrator({
    databaseUrl: proxy.url(db.url),
    deploymentMode: 'no-migrate',
    handleSignals: false,
    mode: 'EventDrivenOnly',
    web: false,
    grpc: false,
    logWriter: (record) => {
      if (record.message.startsWith('LISTEN connection lost')) lost.push(String(record.fields['error']));
    },
  });
  await orchestrator.start();
  // Let the first pass (its reads on the pool) finish before new connections stall.
  await sleep(1_000);
  proxy.stallNew = true;
  await db.pool.query(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tasker-orchestrator-listen'",
  );
  // The loss is seen, and the reconnect (250 ms later) hangs in the proxy.
  const deadline = Date.now() + 5_000;
  while (proxy.stalledOpen === 0 && Date.now() < deadline) await sleep(25);
  expect(lost.length, 'the LISTEN connection was not seen lost').toBeGreaterThan(0);
  expect(proxy.stalledOpen, 'no reconnect attempt reached the proxy').toBe(1);
  await sleep(100);
  expect(proxy.stalledStartups.map((startup) => startup.includes('tasker-orchestrator-listen'))).toEqual([true]);

  await orchestrator.stop();
  await sleep(500);
  expect(proxy.stalledOpen, 'connection attempts still open 500 ms after stop() resolved').toBe(0);
});
