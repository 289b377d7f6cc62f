import { UnknownTaskError } from '../../protocol/errors.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { taskIdArgument } from './task-args.ts';
import { withTaskerClient } from './task-client.ts';
import { exitStatusOf } from './task-outcome.ts';
import { formatTask } from './task-view.ts';

const HELP = `Usage: tasker-ctl task get <task-id> [--json]

Shows a task and a table of its steps: state, attempt, worker, duration, and the result (or
the last error).

Options:
  --json      print the task and all its steps as JSON
  -h, --help  show this help

Exit status: 0 the task is complete, pending or in progress, 3 it ended in error or was
cancelled, 1 unknown task or database failure, 2 usage error.`;

/** `tasker-ctl task get`. */
export async function taskGetCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, true);
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const taskId = taskIdArgument(positionals, 'task get');
  const task = await withTaskerClient((client) => client.getTask(taskId));
  if (task === null) throw new UnknownTaskError('TASK_UNKNOWN', `unknown task ${taskId}`, 'TK005', { field: 'task_id', value: taskId });
  if (values.json === true) console.log(JSON.stringify(task, null, 2));
  else for (const line of formatTask(task)) console.log(line);
  return exitStatusOf(task);
}
