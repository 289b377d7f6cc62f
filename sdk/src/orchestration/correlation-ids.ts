/**
 * The correlation ids of tasks, for the orchestrator's lines about steps and tasks it swept: the
 * sweep functions return task and step ids only, and every line about a step must carry its
 * correlation id too, so a user can follow one request through every service's logs.
 */
import type { Queryable } from '../protocol/types.ts';

/** task id → correlation id; tasks that cannot be found are left out. Never throws. */
export async function correlationIds(db: Queryable, taskIds: readonly string[]): Promise<Map<string, string>> {
  if (taskIds.length === 0) return new Map();
  try {
    const { rows } = await db.query<{ task_id: string; correlation_id: string }>(
      'SELECT task_id::text, correlation_id FROM tasker.tasks WHERE task_id = ANY($1::uuid[])',
      [[...new Set(taskIds)]],
    );
    return new Map(rows.map((row) => [row.task_id, row.correlation_id]));
  } catch {
    // A log line without its correlation id is better than a sweep that fails over it.
    return new Map();
  }
}
