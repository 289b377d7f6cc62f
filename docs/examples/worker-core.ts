/**
 * A worker core, the hot path a worker runs on: claim steps, run a handler, report. The same code
 * runs on every binding (TASKER_BINDING=napi|ffi|pg) and runtime; the test suite runs it in each
 * binding (test/docs/examples.test.ts).
 */
import pg from 'pg';
import { loadBinding } from '../../sdk/src/binding/index.ts';
import { createTask, getTaskStatus, registerTemplate, type TaskStatus } from '../../sdk/src/protocol/index.ts';

/** Creates three single-step tasks and completes them through a worker core of the given binding. */
export async function runWorkerCoreExample(databaseUrl: string, bindingName?: string): Promise<TaskStatus[]> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    await registerTemplate(pool, {
      namespace: 'docs_core',
      name: 'greet',
      version: '1.0.0',
      steps: [{ name: 'hello', handler: 'docs.hello' }],
    });
    const taskIds: string[] = [];
    for (const who of ['Ada', 'Grace', 'Edsger']) {
      taskIds.push((await createTask(pool, { namespace: 'docs_core', name: 'greet', context: { who } })).taskId);
    }

    const binding = await loadBinding(bindingName); // TASKER_BINDING, default napi
    const core = await binding.createWorkerCore({ databaseUrl, workerId: 'docs-worker', namespaces: ['docs_core'] });
    let done = 0;
    while (done < taskIds.length) {
      for (const step of await core.next(10, 1000)) {
        const result = `hello, ${String(step.context['who'])}`;
        const outcome = await core.report({ stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success', result });
        if (outcome.accepted) done += 1;
      }
    }
    await core.drain(5000);

    const statuses: TaskStatus[] = [];
    for (const id of taskIds) {
      const status = await getTaskStatus(pool, id);
      if (status !== null) statuses.push(status);
    }
    return statuses;
  } finally {
    await pool.end();
  }
}
