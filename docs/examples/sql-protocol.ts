/**
 * The SQL protocol, end to end, in one file: register a template, create a task, claim and
 * report its steps until it completes. This is what a worker does on its hot path; real workers
 * (sdk/src/worker) add concurrency, heartbeats and handlers on top.
 *
 * The test suite runs it against a throwaway database (test/docs/examples.test.ts). To run it by
 * hand against a database with the migrations applied, use a runtime that runs TypeScript
 * directly, e.g. `DATABASE_URL=postgres://... bun docs/examples/sql-protocol.ts`.
 */
import pg from 'pg';
import {
  claimSteps,
  createTask,
  getTaskStatus,
  registerTemplate,
  reportStep,
  type TaskStatus,
} from '../../sdk/src/protocol/index.ts';

/** Runs one diamond-shaped task to completion and returns its final status. */
export async function runExample(databaseUrl: string): Promise<TaskStatus> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  try {
    await registerTemplate(pool, {
      namespace: 'docs_example',
      name: 'fetch_and_merge',
      version: '1.0.0',
      steps: [
        { name: 'fetch', handler: 'example.fetch' },
        { name: 'left', handler: 'example.double', dependencies: ['fetch'] },
        { name: 'right', handler: 'example.square', dependencies: ['fetch'] },
        { name: 'merge', handler: 'example.sum', dependencies: ['left', 'right'] },
      ],
    });

    const { taskId } = await createTask(pool, {
      namespace: 'docs_example',
      name: 'fetch_and_merge',
      context: { n: 7 },
    });

    // The handlers, keyed by the handler names in the template.
    const handlers: Record<string, (input: { n: number; deps: Record<string, number> }) => number> = {
      'example.fetch': ({ n }) => n,
      'example.double': ({ deps }) => (deps['fetch'] ?? 0) * 2,
      'example.square': ({ deps }) => (deps['fetch'] ?? 0) ** 2,
      'example.sum': ({ deps }) => (deps['left'] ?? 0) + (deps['right'] ?? 0),
    };

    for (;;) {
      const status = await getTaskStatus(pool, taskId);
      if (status === null) throw new Error(`task ${taskId} vanished`);
      if (status.state !== 'in_progress') return status;

      const { claimed } = await claimSteps(pool, { namespace: 'docs_example', batchSize: 10, leaseSeconds: 30 });
      for (const step of claimed) {
        const handler = handlers[step.handler];
        const result = handler?.({
          n: Number(step.context['n']),
          deps: step.dependencyResults as Record<string, number>,
        });
        await reportStep(pool, {
          stepId: step.stepId,
          attempt: step.attempt,
          delivery: step.delivery,
          ...(result === undefined
            ? { outcome: 'permanent_failure', error: { kind: 'UnknownHandler', message: step.handler } }
            : { outcome: 'success', result }),
        });
      }
    }
  } finally {
    await pool.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env['DATABASE_URL'];
  if (url === undefined) throw new Error('set DATABASE_URL to a database with the tasker migrations applied');
  const status = await runExample(url);
  console.log(status.state, status.steps.map((s) => `${s.name}=${JSON.stringify(s.results)}`).join(' '));
}
