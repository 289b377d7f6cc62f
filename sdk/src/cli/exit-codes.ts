/** Process exit statuses of tasker-ctl. */
export const EXIT_OK = 0;
/** Something failed at run time (database unreachable, migration refused, ...). */
export const EXIT_FAILURE = 1;
/** The command line (or a configuration value) was not understood. */
export const EXIT_USAGE = 2;
