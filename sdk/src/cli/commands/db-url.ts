import { EmbeddedPostgresNotRunningError } from '../../errors.ts';
import { embeddedPostgresStatus, startEmbeddedPostgres } from '../../db/embedded-postgres.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { DIR_HELP, DIR_OPTION, locationFrom } from './db-location.ts';

const HELP = `Usage: tasker-ctl db url [--dir DIR]

Prints the full connection URL of the running embedded server, password included, and
nothing else, for scripts: DATABASE_URL=$(tasker-ctl db url). Fails when it is not running.

Options:
${DIR_HELP}
  -h, --help  show this help`;

/** `tasker-ctl db url`: the one command that prints a password, on purpose. */
export async function dbUrlCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, { ...DIR_OPTION, help: { type: 'boolean', short: 'h' } });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const location = locationFrom(values.dir);
  const status = await embeddedPostgresStatus(location);
  if (status.state !== 'running') {
    throw new EmbeddedPostgresNotRunningError('Embedded PostgreSQL is not running; start it with `tasker-ctl db start`');
  }
  // Attaching verifies the stored credentials still work before we hand them out.
  const server = await startEmbeddedPostgres(location);
  console.log(server.url);
  return EXIT_OK;
}
