import { redactDatabaseUrl } from '../../db/database-url.ts';
import { pinEmbeddedPostgres, startEmbeddedPostgres } from '../../db/embedded-postgres.ts';
import { consoleLogSink, logLine } from '../../db/log.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { DIR_HELP, DIR_OPTION, locationFrom } from './db-location.ts';

const HELP = `Usage: tasker-ctl db start [--dir DIR]

Starts the embedded PostgreSQL server (initialising it on first use), or reports the one
already running. It keeps running until \`tasker-ctl db stop\`.

Options:
${DIR_HELP}
  -h, --help  show this help`;

/** `tasker-ctl db start`. */
export async function dbStartCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, { ...DIR_OPTION, help: { type: 'boolean', short: 'h' } });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const location = locationFrom(values.dir);
  const server = await startEmbeddedPostgres({ ...location, log: consoleLogSink });
  // Also when another command started it: that command now leaves it running when it ends.
  await pinEmbeddedPostgres(location);
  logLine(
    consoleLogSink,
    'SUCCESS',
    `Embedded PostgreSQL ${server.pgVersion} ${server.reused ? 'was already running' : 'started'} (pid ${server.pid}, port ${server.port})`,
  );
  logLine(consoleLogSink, 'INFO', `URL: ${redactDatabaseUrl(server.url)} (full URL: tasker-ctl db url)`);
  logLine(consoleLogSink, 'INFO', `Data directory: ${server.dataDir}`);
  if (process.env.DATABASE_URL) {
    logLine(consoleLogSink, 'INFO', 'DATABASE_URL is set, so migrate and the tests use that database, not this server');
  }
  return EXIT_OK;
}
