import { callProtocol } from './call.ts';
import type { CancelledTask, CreateTaskInput, CreatedTask, Queryable, TaskState, TaskStatus } from './types.ts';

interface CreateRow {
  task_id: string;
  created: boolean;
  state: TaskState;
}

/**
 * Creates a task from a registered template (`tasker.create_task`): task, steps, edges and the
 * root steps' messages in one transaction. With a used idempotency key, returns the existing task
 * with `created: false`.
 *
 * @example
 * const { taskId } = await createTask(pool, { namespace: 'shop', name: 'order', context: { id: 7 } });
 */
export async function createTask(db: Queryable, input: CreateTaskInput): Promise<CreatedTask> {
  const rows = await callProtocol<CreateRow>(
    db,
    'SELECT * FROM tasker.create_task($1, $2, $3, $4::jsonb, $5, $6, $7, $8::text[], $9)',
    [
      input.namespace,
      input.name,
      input.version ?? null,
      JSON.stringify(input.context ?? {}),
      input.idempotencyKey ?? null,
      input.correlationId ?? null,
      input.priority ?? 0,
      input.tags ?? [],
      input.initiator ?? null,
    ],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('tasker.create_task returned no row');
  return { taskId: row.task_id, created: row.created, state: row.state };
}

/** Reads a task and all its steps (`tasker.task_status`); `null` for an unknown task. */
export async function getTaskStatus(db: Queryable, taskId: string): Promise<TaskStatus | null> {
  const rows = await callProtocol<{ status: TaskStatus | null }>(
    db,
    'SELECT tasker.task_status($1::uuid) AS status',
    [taskId],
  );
  return rows[0]?.status ?? null;
}

interface CancelRow {
  task_id: string;
  state: TaskState;
  changed: boolean;
  cancelled_steps: number;
}

/**
 * Cancels a running task (`tasker.cancel_task`): steps not started are cancelled, running steps
 * are told to abort through lease extension. Throws `UnknownTaskError` for an unknown id.
 */
export async function cancelTask(
  db: Queryable,
  taskId: string,
  options: { reason?: string; actor?: string } = {},
): Promise<CancelledTask> {
  const rows = await callProtocol<CancelRow>(db, 'SELECT * FROM tasker.cancel_task($1::uuid, $2, $3)', [
    taskId,
    options.reason ?? 'cancelled by request',
    options.actor ?? 'client',
  ]);
  const row = rows[0];
  if (row === undefined) throw new Error('tasker.cancel_task returned no row');
  return { taskId: row.task_id, state: row.state, changed: row.changed, cancelledSteps: row.cancelled_steps };
}
