/** Errors the client raises itself (database-raised ones come from protocol/errors.ts). */
import { TaskerError } from '../errors.ts';

/** waitForTask gave up before the task reached a terminal state. */
export class TaskWaitTimeoutError extends TaskerError {
  constructor(
    readonly taskId: string,
    readonly timeoutMs: number,
    /** The state last read; null when the database did not answer in time to read any. */
    readonly lastState: string | null,
  ) {
    super(
      'TASK_WAIT_TIMEOUT',
      `task ${taskId} did not finish within ${timeoutMs} ms (${lastState === null ? 'the database did not answer in time to read its state' : `it is ${lastState}`})`,
    );
  }
}

/** The client was used after close(). */
export class ClientClosedError extends TaskerError {
  constructor() {
    super('CLIENT_CLOSED', 'the TaskerClient is closed');
  }
}
