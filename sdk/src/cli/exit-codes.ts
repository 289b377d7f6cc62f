/** Process exit statuses of tasker-ctl. */
export const EXIT_OK = 0;
/** Something failed at run time (database unreachable, migration refused, ...). */
export const EXIT_FAILURE = 1;
/** The command line (or a configuration value) was not understood. */
export const EXIT_USAGE = 2;
/**
 * `task get`, `task watch` and `task create --wait`: the task ended in error or was cancelled.
 * Distinct from EXIT_FAILURE so a script can tell "the task failed" from "the command failed".
 */
export const EXIT_TASK_FAILED = 3;
/** `task watch` and `task create --wait`: the wait timed out while the task was still running. */
export const EXIT_WAIT_TIMEOUT = 4;
