import { UsageError } from '../../errors.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { taskCancelCommand } from './task-cancel.ts';
import { taskCreateCommand } from './task-create.ts';
import { taskGetCommand } from './task-get.ts';
import { taskRetryCommand } from './task-retry.ts';
import { taskWatchCommand } from './task-watch.ts';
import { commandNamed, type CommandTable } from '../command-table.ts';

const HELP = `Usage: tasker-ctl task <create|get|watch|cancel|retry> [options]

Creates and follows tasks.

Commands:
  create   create a task from a registered template (optionally wait for it)
  get      show a task and its steps
  watch    print step state changes until the task finishes
  cancel   cancel a task
  retry    run a task in error again

Exit status of get, watch and create --wait: 0 complete, 3 error or cancelled,
4 the wait timed out; 1 failure and 2 usage error everywhere.

Run \`tasker-ctl task <command> --help\` for a command's options.`;

const SUBCOMMANDS: CommandTable = {
  create: taskCreateCommand,
  get: taskGetCommand,
  watch: taskWatchCommand,
  cancel: taskCancelCommand,
  retry: taskRetryCommand,
};

/** `tasker-ctl task ...`: dispatches to one subcommand. */
export async function taskCommand(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(HELP);
    if (name === undefined) throw new UsageError('task needs a command: create, get, watch, cancel or retry');
    return EXIT_OK;
  }
  const command = commandNamed(SUBCOMMANDS, name);
  if (command === undefined) throw new UsageError(`unknown task command "${name}" (expected create, get, watch, cancel or retry)`);
  return command(rest);
}
