import { stopEmbeddedPostgres } from '../../db/embedded-postgres.ts';
import { consoleLogSink, logLine } from '../../db/log.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { DIR_HELP, DIR_OPTION, locationFrom } from './db-location.ts';

const HELP = `Usage: tasker-ctl db stop [--dir DIR]

Stops the embedded PostgreSQL server (fast shutdown). Does nothing when it is not running.

Options:
${DIR_HELP}
  -h, --help  show this help`;

/** `tasker-ctl db stop`. */
export async function dbStopCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, { ...DIR_OPTION, help: { type: 'boolean', short: 'h' } });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const result = await stopEmbeddedPostgres(locationFrom(values.dir));
  if (result.wasRunning) logLine(consoleLogSink, 'SUCCESS', `Stopped embedded PostgreSQL (pid ${result.pid})`);
  else logLine(consoleLogSink, 'INFO', 'Embedded PostgreSQL is not running');
  return EXIT_OK;
}
