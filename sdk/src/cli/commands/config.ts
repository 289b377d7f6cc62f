import { UsageError } from '../../errors.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { configGenerateCommand } from './config-generate.ts';
import { configShowCommand } from './config-show.ts';
import { configValidateCommand } from './config-validate.ts';
import { commandNamed, type CommandTable } from '../command-table.ts';

const HELP = `Usage: tasker-ctl config <generate|show|validate> [options]

Works with the TOML configuration: config/tasker/base, then environments/<TASKER_ENV>, then the
context's files, then environment variables; or one merged file, TASKER_CONFIG_PATH (required
in production). See docs/config.md. Instances of a cluster share one configuration and differ by
TASKER_INSTANCE_ID (0-9): instance i serves REST and gRPC on the configured ports + i.

Commands:
  generate   merge the tree for a context and environment into one file
  show       print every key of a context with its value and where it came from
  validate   check the configuration, listing every problem

Run \`tasker-ctl config <command> --help\` for a command's options.`;

const SUBCOMMANDS: CommandTable = {
  generate: configGenerateCommand,
  show: configShowCommand,
  validate: configValidateCommand,
};

/** `tasker-ctl config ...`: dispatches to one subcommand. */
export async function configCommand(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(HELP);
    if (name === undefined) throw new UsageError('config needs a command: generate, show or validate');
    return EXIT_OK;
  }
  const command = commandNamed(SUBCOMMANDS, name);
  if (command === undefined) throw new UsageError(`unknown config command "${name}" (expected generate, show or validate)`);
  return command(rest);
}
