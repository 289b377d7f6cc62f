import { ConfigError } from '../config/errors.ts';
import { InvalidConfigError, TaskerError, UsageError } from '../errors.ts';
import { dbCommand } from './commands/db.ts';
import { migrateCommand } from './commands/migrate.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.ts';
import { commandNamed } from './command-table.ts';

const HELP = `Usage: tasker-ctl <command> [options]

Operate Tasker for TypeScript.

Commands:
  migrate        install PGMQ and apply database migrations
  db             start | stop | status | url of the embedded PostgreSQL server
  template       validate | register | list task templates
  task           create | get | watch | cancel | retry tasks
  worker         run a worker with the handlers of one or more directories
  orchestrator   run the orchestration service (migrations, templates, sweeps)
  config         generate | show | validate the TOML configuration

Environment:
  DATABASE_URL             database to use; without it, the embedded server is used
  TASKER_ENV               test | development (default) | production
  TASKER_CONFIG_PATH       one merged config file (required in production)
  TASKER_CONFIG_ROOT       the config tree (default config/tasker)
  TASKER_EMBEDDED_PG_DIR   state directory of the embedded server
  TASKER_PG_BIN_DIR        run the embedded server from these PostgreSQL programs (e.g.
                           /usr/lib/postgresql/15/bin) instead of the bundled ones
  DEPLOYMENT_MODE, DB_MIGRATION_TIMEOUT, DB_MIGRATION_RETRIES   see \`tasker-ctl migrate --help\`
  Every config key has a variable too: \`tasker-ctl config show --context worker\` lists them.

Exit status: 0 success, 1 failure, 2 usage or configuration error; \`task get\`, \`task watch\`
and \`task create --wait\` exit 3 when the task ended in error or was cancelled, and 4 when
their wait timed out.

Run \`tasker-ctl <command> --help\` for a command's options.`;

type Command = (args: readonly string[]) => Promise<number>;

// The newer commands are imported when chosen: they pull in the template parser, the client and
// the worker runtime, which `db url` and `migrate` (often run from scripts) need not load.
const COMMANDS: Readonly<Record<string, Command>> = {
  migrate: migrateCommand,
  db: dbCommand,
  template: async (args) => (await import('./commands/template.ts')).templateCommand(args),
  task: async (args) => (await import('./commands/task.ts')).taskCommand(args),
  worker: async (args) => (await import('./commands/worker.ts')).workerCommand(args),
  orchestrator: async (args) => (await import('./commands/orchestrator.ts')).orchestratorCommand(args),
  config: async (args) => (await import('./commands/config.ts')).configCommand(args),
};

/** Runs tasker-ctl with the given arguments and returns its exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === '--help' || name === '-h' || name === 'help') {
      console.log(HELP);
      return EXIT_OK;
    }
    if (name === undefined) {
      console.log(HELP);
      throw new UsageError('missing command');
    }
    const command = commandNamed(COMMANDS, name);
    if (command === undefined) throw new UsageError(`unknown command "${name}"`);
    return await command(rest);
  } catch (error) {
    if (error instanceof ConfigError) {
      // Not a usage mistake: the command line was fine, a setting was not; the problems say which.
      for (const line of error.message.split('\n')) console.error(`[ERROR] ${line}`);
      return EXIT_USAGE;
    }
    if (error instanceof UsageError || error instanceof InvalidConfigError) {
      console.error(`tasker-ctl: ${error.message}`);
      console.error('Run `tasker-ctl --help` for usage.');
      return EXIT_USAGE;
    }
    if (error instanceof TaskerError) {
      console.error(`[ERROR] ${error.message}`);
      return EXIT_FAILURE;
    }
    console.error(`[ERROR] Unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT_FAILURE;
  }
}
