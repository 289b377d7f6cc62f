/** A test database, a client and in-process workers over a chosen binding, for worker tests that compare bindings. */
import { TaskerClient } from '../../sdk/src/client/index.ts';
import type { BindingName } from '../../sdk/src/binding/types.ts';
import type { HandlerInput, LogRecord } from '../../sdk/src/handler/index.ts';
import { registerTemplate, type TemplateStep } from '../../sdk/src/protocol/index.ts';
import { Worker, type WorkerOptions } from '../../sdk/src/worker/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';

export interface Env {
  db: TestDatabase;
  client: TaskerClient;
  workers: Worker[];
}

export async function openEnv(): Promise<Env> {
  const db = await createTestDatabase();
  return { db, client: new TaskerClient({ databaseUrl: db.url }), workers: [] };
}

export async function closeEnv(env: Env): Promise<void> {
  await Promise.all(env.workers.splice(0).map((w) => w.stop(0)));
  await env.client.close();
  await env.db.drop();
}

export function makeWorker(
  env: Env,
  binding: BindingName,
  namespace: string,
  handlers: HandlerInput[],
  options: Partial<WorkerOptions> = {},
): { worker: Worker; logs: LogRecord[] } {
  const logs: LogRecord[] = [];
  const worker = new Worker({
    databaseUrl: env.db.url,
    namespaces: [namespace],
    handlers,
    binding,
    handleSignals: false,
    logWriter: (record) => logs.push(record),
    core: { pollIntervalMs: 50 },
    ...options,
  });
  env.workers.push(worker);
  return { worker, logs };
}

export async function startWorker(
  env: Env,
  binding: BindingName,
  namespace: string,
  handlers: HandlerInput[],
  options: Partial<WorkerOptions> = {},
) {
  const made = makeWorker(env, binding, namespace, handlers, options);
  await made.worker.start();
  return made;
}

export async function runTask(env: Env, namespace: string, steps: TemplateStep[], context = {}, name = 't') {
  await registerTemplate(env.db.pool, template(name, steps, namespace));
  const { taskId } = await env.client.createTask({ namespace, name, context });
  return taskId;
}

export const BINDINGS: BindingName[] = ['pg', 'napi'];
