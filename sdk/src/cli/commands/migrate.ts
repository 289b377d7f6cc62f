import { resolveDatabase } from '../../db/connect.ts';
import { consoleLogSink, logLine } from '../../db/log.ts';
import { runMigrations } from '../../db/migration-runner.ts';
import { MIGRATION_RETRIES, MIGRATION_TIMEOUT_SECONDS, parseDeploymentMode, resolveMigrationSettings } from '../../db/migration-settings.ts';
import { TaskerError } from '../../errors.ts';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.ts';
import { integerOption, parseOptions } from '../parse-options.ts';

const HELP = `Usage: tasker-ctl migrate [options]

Installs PGMQ if needed and applies pending migrations/NNNN_*.sql files to the database
in DATABASE_URL, or to the embedded server when DATABASE_URL is not set (starting it for
the duration of the command if it is not running).

Options (each overrides its environment variable):
  --mode MODE            standard | migrate-only | no-migrate   ($DEPLOYMENT_MODE, default standard)
                         no-migrate applies nothing and lists pending files
  --timeout SECONDS      budget for the whole run, 1-86400      ($DB_MIGRATION_TIMEOUT, default 300)
  --retries N            connection retries, 0-100              ($DB_MIGRATION_RETRIES, default 3)
  --migrations-dir DIR   directory of NNNN_name.sql files       (default: the repository's migrations/)
  -h, --help             show this help

Exit status: 0 success, 1 failure, 2 usage or configuration error.`;

/** `tasker-ctl migrate`. */
export async function migrateCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, {
    mode: { type: 'string' },
    timeout: { type: 'string' },
    retries: { type: 'string' },
    'migrations-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const mode = values.mode === undefined ? undefined : parseDeploymentMode(values.mode, '--mode');
  const timeoutSeconds = integerOption(values.timeout, '--timeout', MIGRATION_TIMEOUT_SECONDS.min, MIGRATION_TIMEOUT_SECONDS.max);
  const retries = integerOption(values.retries, '--retries', MIGRATION_RETRIES.min, MIGRATION_RETRIES.max);
  // Validate flags and environment before starting any server: a typo costs nothing then.
  const settings = resolveMigrationSettings({ mode, timeoutSeconds, retries });

  const database = await resolveDatabase({ log: consoleLogSink });
  try {
    const result = await runMigrations({
      databaseUrl: database.url,
      log: consoleLogSink,
      ...settings,
      ...(values['migrations-dir'] === undefined ? {} : { migrationsDir: values['migrations-dir'] }),
    });
    if (!result.continueRunning) logLine(consoleLogSink, 'INFO', 'DEPLOYMENT_MODE=migrate-only: migrations done, nothing else to run');
    return EXIT_OK;
  } catch (error) {
    // runMigrations has already printed the [ERROR] line; only the exit status is left to set.
    if (error instanceof TaskerError) return EXIT_FAILURE;
    throw error;
  } finally {
    if (database.embedded !== undefined && !database.embedded.reused) {
      logLine(consoleLogSink, 'INFO', 'Stopping the embedded PostgreSQL this command started');
    }
    await database.release();
  }
}
