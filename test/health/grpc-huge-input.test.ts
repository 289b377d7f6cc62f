/**
 * Huge inputs over gRPC get the status a caller can act on, not a broken stream: status messages
 * travel in a header (`grpc-message`), and one quoting a 100,000-character input broke the HTTP/2
 * stream (INTERNAL "Stream closed", grpc-js RST_STREAM). Every message leaving the server is cut
 * (sdk/src/server/grpc/errors.ts, boundStatusMessages).
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';
import { taskClient, type Wire } from '../health/clients.ts';

const NS = 'huge_input';
let db: TestDatabase;
let orchestrator: Orchestrator;

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, template('order', [{ name: 'charge', handler: 'rh.charge' }], NS));
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

async function code(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (error) {
    const e = ConnectError.from(error);
    return `${Code[e.code]}: ${e.rawMessage.slice(0, 120)}`;
  }
}

const cases: Array<[string, Wire, Record<string, unknown>]> = [
  ['a 100,000-character template name', 'grpc', { namespace: NS, name: 'n'.repeat(100_000) }],
  ['a 100,000-character namespace', 'grpc', { namespace: 'a'.repeat(100_000), name: 'order' }],
];

it.each(cases)('CreateTask with %s answers NOT_FOUND or INVALID_ARGUMENT over %s', async (_, wire, request) => {
  const tasks = taskClient(orchestrator.servers.grpc!.port, wire);
  expect(await code(tasks.createTask(request))).toMatch(/^(NotFound|InvalidArgument):/);
});

it('GetTask with a 100,000-character id answers INVALID_ARGUMENT', async () => {
  const tasks = taskClient(orchestrator.servers.grpc!.port);
  expect(await code(tasks.getTask({ taskId: 'x'.repeat(100_000) }))).toMatch(/^InvalidArgument:/);
  const error = await tasks.getTask({ taskId: 'x'.repeat(100_000) }).then(
    () => new ConnectError('answered OK', Code.Unknown),
    (e: unknown) => ConnectError.from(e),
  );
  expect(error.rawMessage.length).toBeLessThan(1_100);
  expect(error.rawMessage).toMatch(/… \(\d+ characters in all\)$/);
});

it('GetTask with a 100,000-character id answers INVALID_ARGUMENT to grpc-js, the reference gRPC client', async () => {
  const grpc = (await import('@grpc/grpc-js')).default;
  const { create, toBinary, fromBinary } = await import('@bufbuild/protobuf');
  const { GetTaskRequestSchema, GetTaskResponseSchema } = await import('../../sdk/src/gen/tasker/v1/tasks_pb.ts');
  const client = new grpc.Client(`127.0.0.1:${orchestrator.servers.grpc!.port}`, grpc.credentials.createInsecure());
  try {
    const status = await new Promise<{ code: number; details: string }>((resolve) => {
      client.makeUnaryRequest(
        '/tasker.v1.TaskService/GetTask',
        (request: { taskId: string }) => Buffer.from(toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, request))),
        (bytes: Buffer) => fromBinary(GetTaskResponseSchema, bytes),
        { taskId: 'x'.repeat(100_000) },
        { deadline: Date.now() + 5_000 },
        (error) => resolve(error === null ? { code: 0, details: 'OK' } : { code: error.code ?? -1, details: String(error.details).slice(0, 120) }),
      );
    });
    expect(`${status.code} ${status.details}`).toMatch(/^3 /); // 3 = INVALID_ARGUMENT
  } finally {
    client.close();
  }
});
