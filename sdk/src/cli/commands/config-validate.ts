import { ConfigError, formatProblem } from '../../config/errors.ts';
import { loadConfig, mergedFileContext } from '../../config/load.ts';
import { CONFIG_CONTEXTS } from '../../config/types.ts';
import { EXIT_OK, EXIT_USAGE } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { contextOption } from './config-args.ts';

const HELP = `Usage: tasker-ctl config validate [--context orchestration|worker] [--environment ENV] [--file PATH]

Checks the configuration as a worker or orchestrator started here would load it (the tree or
TASKER_CONFIG_PATH, then the environment variables), for one context or, without --context,
for both (for a merged file: the context it was made for). Every problem is listed with its key and where the value came from.

Options:
  --context NAME       orchestration | worker (default: both, or the merged file's)
  --environment ENV    test | development | production (default: $TASKER_ENV, else development)
  --file PATH          check this merged file instead of $TASKER_CONFIG_PATH or the tree
  -h, --help           show this help

Exit status: 0 valid, 2 usage or configuration error.`;

/** `tasker-ctl config validate`. */
export async function configValidateCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, {
    context: { type: 'string' },
    environment: { type: 'string' },
    file: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  // A merged file was made for one context: without --context, that one is checked.
  const only = contextOption(values.context, false) ?? (await mergedFileContext(values.file));
  let invalid = 0;
  for (const context of only === undefined ? CONFIG_CONTEXTS : [only]) {
    try {
      const config = await loadConfig({
        context,
        ...(values.environment === undefined ? {} : { environment: values.environment }),
        ...(values.file === undefined ? {} : { path: values.file }),
      });
      const overridden = new Set(Object.values(config.sources).filter((source) => /^[A-Z][A-Z0-9_]*$/.test(source))).size;
      console.log(
        `OK     ${context} (${config.environment}): ${config.files.length} file${config.files.length === 1 ? '' : 's'}, ` +
          `${overridden} environment variable${overridden === 1 ? '' : 's'}`,
      );
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      invalid += 1;
      for (const problem of error.problems) console.error(`[ERROR] ${context}: ${formatProblem(problem)}`);
    }
  }
  return invalid > 0 ? EXIT_USAGE : EXIT_OK;
}
