import type { TaskInfo } from '../../client/index.ts';
import { EXIT_OK, EXIT_TASK_FAILED } from '../exit-codes.ts';

/**
 * The exit status that reports a task's state: 3 when it ended in error or was cancelled, so a
 * script can branch on it; 0 otherwise (complete, or still pending / in progress for `task get`).
 */
export function exitStatusOf(task: Pick<TaskInfo, 'state'>): number {
  return task.state === 'error' || task.state === 'cancelled' ? EXIT_TASK_FAILED : EXIT_OK;
}
