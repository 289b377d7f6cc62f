/**
 * gRPC status codes of TaskService for what the request checks cannot see: input PostgreSQL
 * refuses as data (a NUL character: SQLSTATE 22P05 in jsonb, 22021 in text) is INVALID_ARGUMENT
 * (translated once, in protocol/errors.ts, for every caller), and every connection failure that
 * db/connect-with-retry.ts counts as transient (EHOSTUNREACH, ENETUNREACH, EAI_AGAIN, 08xxx) is
 * UNAVAILABLE, so gRPC clients retry.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { toConnectError } from '../../sdk/src/server/grpc/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';
import { taskClient } from '../health/clients.ts';

const NS = 'grpc_status_ns';

let db: TestDatabase;
let orchestrator: Orchestrator;

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, template('order', [{ name: 'charge', handler: 'rg.charge' }], NS));
  orchestrator = new Orchestrator({
    databaseUrl: db.url,
    deploymentMode: 'no-migrate',
    handleSignals: false,
    logWriter: () => {},
    mode: 'PollingOnly',
    sweepIntervalMs: 5_000,
    web: false,
    grpc: { host: '127.0.0.1', port: 0 },
  });
  await orchestrator.start();
});

afterAll(async () => {
  await orchestrator?.stop();
  await db?.drop();
});

async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (error) {
    const e = ConnectError.from(error);
    return `${Code[e.code]}: ${e.rawMessage}`;
  }
}

describe('malformed CreateTask requests are INVALID_ARGUMENT', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['a NUL in a context string', { namespace: NS, name: 'order', context: { note: 'a\u0000b' } }],
    ['a NUL in the template name', { namespace: NS, name: 'ord\u0000er' }],
    ['a NUL in a tag', { namespace: NS, name: 'order', tags: ['x\u0000'] }],
  ];
  it.each(cases)('%s', async (_, request) => {
    const tasks = taskClient(orchestrator.servers.grpc!.port);
    expect(await outcome(tasks.createTask(request))).toMatch(/^InvalidArgument/);
  });
});

it('an unroutable database host is UNAVAILABLE, like every other connection failure', () => {
  // What pg rejects with when the database host has no route (net's error, passed through).
  const error = Object.assign(new Error('connect EHOSTUNREACH 10.1.2.3:5432 - Local (0.0.0.0:0)'), {
    code: 'EHOSTUNREACH',
    errno: -113,
    syscall: 'connect',
  });
  expect(Code[toConnectError(error).code]).toBe('Unavailable');
});
