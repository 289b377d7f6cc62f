import { callProtocol } from './call.ts';
import type { Queryable, TaskState, TaskStatus } from './types.ts';

/** A task without its steps, as `listTasks` returns it (`tasker.task_status` minus `steps`). */
export type TaskSummaryStatus = Omit<TaskStatus, 'steps'>;

/** Which tasks `listTasks` returns. Every filter is optional. */
export interface ListTasksQuery {
  namespace?: string;
  name?: string;
  states?: readonly TaskState[];
  /** Most tasks returned. */
  limit: number;
  /** Only tasks older than this one (the previous page's `nextCursor`). */
  before?: string;
}

/** One page of tasks, newest first. */
export interface TaskListPage {
  tasks: TaskSummaryStatus[];
  /** The task id to pass as `before` for the next page; null on the last page. */
  nextCursor: string | null;
}

/**
 * Tasks newest first, filtered by namespace, template name and state, a page at a time. A read
 * only, so a plain query rather than a `tasker.*` function; it builds each row exactly as
 * `tasker.task_status` does (same keys, same JSON timestamps), so callers convert both alike.
 * Task ids are UUIDv7, ordered by creation time, so the page cursor is simply the last id.
 */
export async function listTasks(db: Queryable, query: ListTasksQuery): Promise<TaskListPage> {
  const rows = await callProtocol<{ status: TaskSummaryStatus }>(
    db,
    `SELECT jsonb_build_object(
              'task_id', t.task_id,
              'namespace', n.name,
              'name', nt.name,
              'version', nt.version,
              'state', t.state,
              'context', t.context,
              'tags', to_jsonb(t.tags),
              'priority', t.priority,
              'idempotency_key', t.idempotency_key,
              'correlation_id', t.correlation_id,
              'initiator', t.initiator,
              'created_at', t.created_at,
              'updated_at', t.updated_at,
              'finished_at', t.finished_at,
              'step_counts', (SELECT coalesce(jsonb_object_agg(c.state, c.n), '{}') FROM (
                                SELECT s.state, count(*) AS n FROM tasker.workflow_steps s
                                WHERE s.task_id = t.task_id GROUP BY s.state) c)) AS status
       FROM tasker.tasks t
       JOIN tasker.named_tasks nt ON nt.named_task_id = t.named_task_id
       JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
      WHERE ($1::text IS NULL OR n.name = $1)
        AND ($2::text IS NULL OR nt.name = $2)
        AND ($3::text[] IS NULL OR t.state = ANY($3::text[]))
        AND ($4::uuid IS NULL OR t.task_id < $4::uuid)
      ORDER BY t.task_id DESC
      LIMIT $5`,
    [
      query.namespace ?? null,
      query.name ?? null,
      query.states === undefined || query.states.length === 0 ? null : [...query.states],
      query.before ?? null,
      query.limit + 1,
    ],
  );
  const tasks = rows.slice(0, query.limit).map((row) => row.status);
  const last = tasks[tasks.length - 1];
  return { tasks, nextCursor: rows.length > query.limit && last !== undefined ? last.task_id : null };
}
