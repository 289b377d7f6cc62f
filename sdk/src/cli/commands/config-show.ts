import { loadConfig } from '../../config/load.ts';
import { describeConfig } from '../../config/show.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { formatTable } from '../format-table.ts';
import { parseOptions } from '../parse-options.ts';
import { contextOption } from './config-args.ts';

const HELP = `Usage: tasker-ctl config show --context orchestration|worker [--environment ENV] [--json]

Prints the configuration a worker or orchestrator started here would run with: every key, its
value, and where the value came from (a file, an environment variable, or the default). The
database URL is shown without its password.

Options:
  --context NAME       orchestration | worker (required)
  --environment ENV    test | development | production (default: $TASKER_ENV, else development)
  --json               print the rows as JSON
  -h, --help           show this help

Environment: TASKER_ENV, TASKER_CONFIG_PATH, TASKER_CONFIG_ROOT, and every key's variable.

Exit status: 0 shown, 2 usage or configuration error (every problem is listed).`;

/** `tasker-ctl config show`. */
export async function configShowCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, {
    context: { type: 'string' },
    environment: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const context = contextOption(values.context, true);
  const config = await loadConfig({ context, ...(values.environment === undefined ? {} : { environment: values.environment }) });
  const rows = describeConfig(config);
  if (values.json === true) {
    console.log(JSON.stringify({ context, environment: config.environment, files: config.files, keys: rows }, null, 2));
    return EXIT_OK;
  }
  console.log(`context:     ${context}`);
  console.log(`environment: ${config.environment}`);
  console.log(`files:       ${config.files.length === 0 ? '(none: built-in defaults)' : config.files.join(', ')}`);
  console.log('');
  for (const line of formatTable(
    ['KEY', 'VALUE', 'SOURCE'],
    rows.map((row) => [row.key, row.value, row.source]),
  )) {
    console.log(line);
  }
  return EXIT_OK;
}
