import { embeddedPostgresStatus } from '../../db/embedded-postgres.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { DIR_HELP, DIR_OPTION, locationFrom } from './db-location.ts';

const HELP = `Usage: tasker-ctl db status [--dir DIR] [--json]

Shows whether the embedded PostgreSQL server runs, its pid, port, version and
directories. The URL shown has its password masked (use \`tasker-ctl db url\` for it).
Exits 0 whether the server runs or not.

Options:
${DIR_HELP}
  --json      print the status as JSON
  -h, --help  show this help`;

/** `tasker-ctl db status`. */
export async function dbStatusCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, {
    ...DIR_OPTION,
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const status = await embeddedPostgresStatus(locationFrom(values.dir));
  if (values.json === true) {
    console.log(JSON.stringify(status, null, 2));
    return EXIT_OK;
  }
  const rows: [string, string | number | undefined][] = [
    ['state', status.state + (status.serverStatus && status.serverStatus !== 'ready' ? ` (${status.serverStatus})` : '')],
    ['pid', status.pid],
    ['port', status.port],
    ['version', status.pgVersion],
    ['url', status.redactedUrl],
    ['data dir', `${status.dataDir}${status.initialized ? '' : ' (not initialised yet)'}`],
    ['state dir', status.stateDir],
    ['log', status.logFile],
  ];
  for (const [label, value] of rows) {
    if (value !== undefined) console.log(`${`${label}:`.padEnd(11)}${value}`);
  }
  return EXIT_OK;
}
