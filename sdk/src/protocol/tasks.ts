import { callProtocol } from './call.ts';
import type {
  CancelledTask,
  CreateTaskInput,
  CreatedTask,
  JsonObject,
  Queryable,
  RetriedTask,
  TaskState,
  TaskStatus,
  TimedOutTask,
} from './types.ts';

interface CreateRow {
  task_id: string;
  created: boolean;
  state: TaskState;
}

/** create_task's range for a task's `timeoutMs` (1 ms to 30 days; TK007 beyond). */
export const TASK_TIMEOUT_MS = { min: 1, max: 2_592_000_000 } as const;

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
    'SELECT * FROM tasker.create_task($1, $2, $3, $4::jsonb, $5, $6, $7, $8::text[], $9, $10::bigint, $11)',
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
      input.timeoutMs ?? null,
      input.definitionHash ?? null,
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

interface RetryRow {
  task_id: string;
  state: TaskState;
  changed: boolean;
  retried_steps: number;
  enqueued_steps: number;
}

/**
 * Gives a failed task another run (`tasker.retry_task`): its failed and cancelled steps go back
 * to pending with a fresh budget of attempts (numbered on from their last, so no lease of the
 * earlier run is reused) and the ready ones are enqueued; completed steps keep their results, and
 * a task with nothing left to run is complete at once. A task that is not in error is left alone (`changed: false`). Throws
 * `UnknownTaskError` for an unknown id.
 */
export async function retryTask(db: Queryable, taskId: string, options: { actor?: string } = {}): Promise<RetriedTask> {
  const rows = await callProtocol<RetryRow>(db, 'SELECT * FROM tasker.retry_task($1::uuid, $2)', [
    taskId,
    options.actor ?? 'client',
  ]);
  const row = rows[0];
  if (row === undefined) throw new Error('tasker.retry_task returned no row');
  return {
    taskId: row.task_id,
    state: row.state,
    changed: row.changed,
    retriedSteps: row.retried_steps,
    enqueuedSteps: row.enqueued_steps,
  };
}

/**
 * Fails every unfinished task whose deadline (`timeoutMs` at creation) passed
 * (`tasker.sweep_task_timeouts`), at most `limit` per call. Safe from several orchestrators.
 */
export async function sweepTaskTimeouts(db: Queryable, limit = 100, actor = 'sweeper'): Promise<TimedOutTask[]> {
  const rows = await callProtocol<{ task_id: string; reason: string }>(
    db,
    'SELECT * FROM tasker.sweep_task_timeouts($1, $2)',
    [limit, actor],
  );
  return rows.map((row) => ({ taskId: row.task_id, reason: row.reason }));
}

/**
 * The version `createTask` would use for (namespace, name, version; undefined = highest), its
 * input schema, and the hash of its definition (`tasker.template_input_schema`); null for an
 * unknown template. Pass the hash to createTask as `definitionHash` to create the task only from
 * the definition whose schema was checked.
 */
export async function templateInputSchema(
  db: Queryable,
  namespace: string,
  name: string,
  version?: string,
): Promise<{ version: string; inputSchema: JsonObject | boolean | null; definitionHash: string } | null> {
  const rows = await callProtocol<{ version: string; input_schema: JsonObject | boolean | null; definition_hash: string }>(
    db,
    'SELECT * FROM tasker.template_input_schema($1, $2, $3)',
    [namespace, name, version ?? null],
  );
  const row = rows[0];
  return row === undefined ? null : { version: row.version, inputSchema: row.input_schema, definitionHash: row.definition_hash };
}
