import { UsageError } from '../../errors.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { templateListCommand } from './template-list.ts';
import { templateRegisterCommand } from './template-register.ts';
import { templateValidateCommand } from './template-validate.ts';
import { commandNamed, type CommandTable } from '../command-table.ts';

const HELP = `Usage: tasker-ctl template <validate|register|list> [options]

Works with YAML task templates.

Commands:
  validate   check template files locally, no database needed
  register   validate and register template files in the database
  list       list the registered templates

Run \`tasker-ctl template <command> --help\` for a command's options.`;

const SUBCOMMANDS: CommandTable = {
  validate: templateValidateCommand,
  register: templateRegisterCommand,
  list: templateListCommand,
};

/** `tasker-ctl template ...`: dispatches to one subcommand. */
export async function templateCommand(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(HELP);
    if (name === undefined) throw new UsageError('template needs a command: validate, register or list');
    return EXIT_OK;
  }
  const command = commandNamed(SUBCOMMANDS, name);
  if (command === undefined) throw new UsageError(`unknown template command "${name}" (expected validate, register or list)`);
  return command(rest);
}
