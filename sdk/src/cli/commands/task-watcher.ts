import { TaskWaitTimeoutError, type TaskInfo, type TaskerClient } from '../../client/index.ts';
import { UnknownTaskError } from '../../protocol/errors.ts';
import { EXIT_WAIT_TIMEOUT } from '../exit-codes.ts';
import { describeChanges, emptySnapshot } from './task-changes.ts';
import { exitStatusOf } from './task-outcome.ts';
import { formatDuration, stepOutcome } from './task-view.ts';

/** How often the display reads the task. Only the display polls: the end comes from waitForTask. */
const DISPLAY_POLL_MS = 250;

/** Options of {@link watchTask}. */
export interface WatchOptions {
  /** Stop waiting after this many ms (exit status 4). Default: until the task finishes. */
  timeoutMs?: number;
  /** Print state changes as they happen. False: print only the final summary line. */
  showChanges: boolean;
}

/** How a watch ended: the task's last reading and the exit status that reports it. */
export interface WatchResult {
  task: TaskInfo;
  exitStatus: number;
}

/**
 * Prints the task's state, then each step state change as it happens, until the task is
 * complete, error or cancelled (exit status 0 or 3) or `timeoutMs` runs out (4). The end is
 * detected by the client's waitForTask, which listens for the database's announcement; the
 * short poll only feeds the display, so a fast task's intermediate states may be skipped.
 */
export async function watchTask(client: TaskerClient, taskId: string, options: WatchOptions): Promise<WatchResult> {
  let latest = await client.getTask(taskId);
  if (latest === null) {
    throw new UnknownTaskError('TASK_UNKNOWN', `unknown task ${taskId}`, 'TK005', { field: 'task_id', value: taskId });
  }
  let snapshot = emptySnapshot();
  const show = (task: TaskInfo): void => {
    const change = describeChanges(snapshot, task);
    snapshot = change.snapshot;
    if (options.showChanges) for (const line of change.lines) console.log(line);
  };
  if (options.showChanges) console.log(`watching task ${taskId} (${latest.namespace}/${latest.name}@${latest.version})`);
  show(latest);

  const stopWaiting = new AbortController();
  const finished = client
    .waitForTask(taskId, { signal: stopWaiting.signal, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) })
    .then(
      (task) => ({ task, timedOut: false }),
      (error: unknown) => {
        if (error instanceof TaskWaitTimeoutError) return { task: undefined, timedOut: true };
        throw error;
      },
    );
  try {
    for (;;) {
      const tick = new Promise<'tick'>((resolve) => setTimeout(() => resolve('tick'), DISPLAY_POLL_MS));
      const outcome = await Promise.race([finished, tick]);
      if (outcome !== 'tick') {
        if (outcome.task !== undefined) latest = outcome.task;
        else latest = (await client.getTask(taskId)) ?? latest;
        show(latest);
        if (outcome.timedOut) {
          console.error(`[ERROR] task ${taskId} is still ${latest.state} after ${options.timeoutMs ?? 0} ms; stopped waiting`);
          return { task: latest, exitStatus: EXIT_WAIT_TIMEOUT };
        }
        printSummary(latest);
        return { task: latest, exitStatus: exitStatusOf(latest) };
      }
      latest = (await client.getTask(taskId)) ?? latest;
      show(latest);
    }
  } finally {
    stopWaiting.abort();
    // The waiter rejects with the abort reason once aborted; nobody needs that rejection.
    finished.catch(() => {});
  }
}

/** `[SUCCESS] task ... complete in 1.20 s`, or `[ERROR]` with the failed steps' errors. */
function printSummary(task: TaskInfo): void {
  const took = task.finishedAt === null ? '' : ` in ${formatDuration(task.finishedAt.getTime() - task.createdAt.getTime())}`;
  if (task.state === 'complete') {
    console.error(`[SUCCESS] task ${task.taskId} complete${took}`);
    return;
  }
  // The steps that failed say why; a task failed by its deadline has none, then its steps'
  // recorded errors (cancelled by the timeout) do.
  const errored = task.steps.filter((step) => step.state === 'error');
  const failed = errored.length > 0 ? errored : task.steps.filter((step) => step.state !== 'complete' && step.error !== null);
  const why = failed.map((step) => `${step.name}: ${stepOutcome(step)}`).join('; ');
  console.error(`[ERROR] task ${task.taskId} ${task.state}${took}${why === '' ? '' : ` (${why})`}`);
}
