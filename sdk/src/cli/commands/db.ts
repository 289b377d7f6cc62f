import { UsageError } from '../../errors.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { dbStartCommand } from './db-start.ts';
import { dbStatusCommand } from './db-status.ts';
import { dbStopCommand } from './db-stop.ts';
import { dbUrlCommand } from './db-url.ts';
import { commandNamed, type CommandTable } from '../command-table.ts';

const HELP = `Usage: tasker-ctl db <start|stop|status|url> [options]

Manages the embedded PostgreSQL server used when DATABASE_URL is not set.

Commands:
  start    start the server (or attach to the running one)
  stop     stop the server
  status   show whether it runs, with a redacted URL
  url      print the full URL, password included

Run \`tasker-ctl db <command> --help\` for a command's options.`;

const SUBCOMMANDS: CommandTable = {
  start: dbStartCommand,
  stop: dbStopCommand,
  status: dbStatusCommand,
  url: dbUrlCommand,
};

/** `tasker-ctl db ...`: dispatches to one subcommand. */
export async function dbCommand(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(HELP);
    if (name === undefined) throw new UsageError('db needs a command: start, stop, status or url');
    return EXIT_OK;
  }
  const command = commandNamed(SUBCOMMANDS, name);
  if (command === undefined) throw new UsageError(`unknown db command "${name}" (expected start, stop, status or url)`);
  return command(rest);
}
