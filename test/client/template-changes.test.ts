/**
 * Review of TaskerClient.createTask's input_schema check (sdk/src/client/client.ts) against the
 * version create_task actually picks (migrations 0009 template_input_schema, 0025 create_task).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskerClient } from '../../sdk/src/client/index.ts';
import { registerTemplate, type TaskTemplate } from '../../sdk/src/protocol/index.ts';
import { InvalidContextError } from '../../sdk/src/template/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const NS = 'review_client';

let db: TestDatabase;
let client: TaskerClient;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new TaskerClient({ databaseUrl: db.url });
});

afterAll(async () => {
  await client?.close();
  await db?.drop();
});

function order(name: string, version: string, inputSchema?: TaskTemplate['input_schema']): TaskTemplate {
  return {
    namespace: NS,
    name,
    version,
    ...(inputSchema === undefined ? {} : { input_schema: inputSchema }),
    steps: [{ name: 'charge', handler: 'h.charge' }],
  };
}

const NEEDS_ORDER_ID = { type: 'object', required: ['order_id'], properties: { order_id: { type: 'string' } } };

describe('createTask checks the context against the schema of the version it creates', () => {
  it('a new latest version with a stricter input_schema: an invalid context is refused, not created under it', async () => {
    await registerTemplate(db.pool, order('latest_schema', '1.0.0'));
    await client.createTask({ namespace: NS, name: 'latest_schema', context: {} }); // a first task, as an app would
    await registerTemplate(db.pool, order('latest_schema', '2.0.0', NEEDS_ORDER_ID));

    const attempt = await client.createTask({ namespace: NS, name: 'latest_schema', context: {} }).then(
      async (created) => ({ createdUnder: (await client.getTask(created.taskId))?.version }),
      (error: unknown) => ({ error }),
    );
    // Without order_id the context breaks 2.0.0's input_schema.
    expect(attempt).toEqual({ error: expect.any(InvalidContextError) });
  });

  it('a template re-registered under the same version with a stricter input_schema applies to tasks created afterwards', async () => {
    await registerTemplate(db.pool, order('same_version', '1.0.0'));
    await client.createTask({ namespace: NS, name: 'same_version', version: '1.0.0', context: {} });
    // docs/protocol.md: a different definition under the same version replaces it for tasks created afterwards.
    expect((await registerTemplate(db.pool, order('same_version', '1.0.0', NEEDS_ORDER_ID))).changed).toBe(true);

    await expect(client.createTask({ namespace: NS, name: 'same_version', version: '1.0.0', context: {} })).rejects.toBeInstanceOf(
      InvalidContextError,
    );
  });
});

describe('idempotency keys', () => {
  it('a key already used returns the existing task even after a newer version was registered', async () => {
    await registerTemplate(db.pool, order('idempotent', '1.0.0'));
    const first = await client.createTask({ namespace: NS, name: 'idempotent', idempotencyKey: 'order-42', context: {} });
    await registerTemplate(db.pool, order('idempotent', '1.1.0'));

    const again = await client.createTask({ namespace: NS, name: 'idempotent', idempotencyKey: 'order-42', context: {} });
    expect(again).toMatchObject({ taskId: first.taskId, created: false });
  });
});
