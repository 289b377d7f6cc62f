import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { taskIdArgument } from './task-args.ts';
import { withTaskerClient } from './task-client.ts';

const HELP = `Usage: tasker-ctl task cancel <task-id> [--reason R]

Cancels a task that has not finished: steps not started are cancelled, running handlers are
told to stop through their abort signal. Cancelling a task already cancelled changes nothing.

Options:
  --reason R  recorded on the task's transition (default "cancelled by request")
  -h, --help  show this help

Exit status: 0 the task is cancelled (now or before), 1 it had already finished otherwise
(complete or error), unknown task, or database failure, 2 usage error.`;

/** `tasker-ctl task cancel`. */
export async function taskCancelCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    { reason: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const taskId = taskIdArgument(positionals, 'task cancel');
  const result = await withTaskerClient((client) => client.cancelTask(taskId, values.reason));
  if (result.changed) {
    console.error(`[SUCCESS] cancelled task ${taskId} (${result.cancelledSteps} step${result.cancelledSteps === 1 ? '' : 's'} cancelled)`);
    return EXIT_OK;
  }
  if (result.state === 'cancelled') {
    console.error(`[INFO] task ${taskId} was already cancelled`);
    return EXIT_OK;
  }
  console.error(`[ERROR] task ${taskId} has already finished (${result.state}); nothing to cancel`);
  return EXIT_FAILURE;
}
