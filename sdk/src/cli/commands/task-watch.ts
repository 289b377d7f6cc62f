import { EXIT_OK } from '../exit-codes.ts';
import { integerOption, parseOptions } from '../parse-options.ts';
import { taskIdArgument } from './task-args.ts';
import { withTaskerClient } from './task-client.ts';
import { watchTask } from './task-watcher.ts';

const HELP = `Usage: tasker-ctl task watch <task-id> [--timeout-ms N]

Prints the task's steps, then each step state change as it happens (with attempt, worker,
duration and result or error), until the task is complete, error or cancelled. A task that has
already finished is shown and the command exits at once.

Options:
  --timeout-ms N  stop waiting after N ms
  -h, --help      show this help

Exit status: 0 the task completed, 3 it ended in error or was cancelled, 4 --timeout-ms ran
out first, 1 unknown task or database failure, 2 usage error.`;

/** `tasker-ctl task watch`. */
export async function taskWatchCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    { 'timeout-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const taskId = taskIdArgument(positionals, 'task watch');
  const timeoutMs = integerOption(values['timeout-ms'], '--timeout-ms', 1);
  const watched = await withTaskerClient((client) =>
    watchTask(client, taskId, { showChanges: true, ...(timeoutMs === undefined ? {} : { timeoutMs }) }),
  );
  return watched.exitStatus;
}
