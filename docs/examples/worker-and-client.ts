/**
 * docs/worker.md's example: a template, two handlers, a Worker and a TaskerClient in one
 * process. Run against a migrated database: `runWorkerAndClientExample(databaseUrl)`.
 */
import pg from 'pg';
import { TaskerClient, Worker, defineHandler, registerTemplate, type TaskInfo } from '../../sdk/src/index.ts';

export async function runWorkerAndClientExample(databaseUrl: string): Promise<TaskInfo> {
  // 1. Register a template (an orchestrator does this from YAML files in production).
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  await registerTemplate(pool, {
    namespace: 'greetings',
    name: 'greet',
    version: '1.0.0',
    input_schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
    steps: [
      { name: 'compose', handler: 'greetings.compose' },
      { name: 'shout', handler: 'greetings.shout', dependencies: ['compose'] },
    ],
  });
  await pool.end();

  // 2. Handlers, and a worker serving the namespace.
  const compose = defineHandler<{ name: string }>('greetings.compose', (ctx) => `hello, ${ctx.context.name}`);
  const shout = defineHandler<{ name: string }, { compose: string }>('greetings.shout', (ctx) =>
    ctx.dependencyResult('compose').toUpperCase(),
  );
  const worker = new Worker({ databaseUrl, namespaces: ['greetings'], handlers: [compose, shout], concurrency: 4 });
  await worker.start(); // worker.run() instead also drains on SIGTERM/SIGINT

  // 3. A client creates a task and waits for it (woken by LISTEN/NOTIFY, no polling).
  const client = new TaskerClient({ databaseUrl });
  try {
    const { taskId } = await client.createTask({ namespace: 'greetings', name: 'greet', context: { name: 'ada' } });
    return await client.waitForTask(taskId, { timeoutMs: 30_000 });
  } finally {
    await client.close();
    await worker.stop();
  }
}
