import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { taskIdArgument } from './task-args.ts';
import { withTaskerClient } from './task-client.ts';

const HELP = `Usage: tasker-ctl task retry <task-id>

Gives a task in error another run: its failed and cancelled steps start again with fresh
attempts, completed steps keep their results. Follow it with \`tasker-ctl task watch <task-id>\`.

Options:
  -h, --help  show this help

Exit status: 0 the task runs again, 1 it was not in error (nothing retried), unknown task, or
database failure, 2 usage error.`;

/** `tasker-ctl task retry`. */
export async function taskRetryCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { help: { type: 'boolean', short: 'h' } }, true);
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const taskId = taskIdArgument(positionals, 'task retry');
  const result = await withTaskerClient((client) => client.retryTask(taskId));
  if (!result.changed) {
    console.error(`[ERROR] task ${taskId} is ${result.state}: only a task in error can be retried`);
    return EXIT_FAILURE;
  }
  console.error(
    `[SUCCESS] retrying task ${taskId}: ${result.retriedSteps} step${result.retriedSteps === 1 ? '' : 's'} reset, ${result.enqueuedSteps} enqueued`,
  );
  return EXIT_OK;
}
