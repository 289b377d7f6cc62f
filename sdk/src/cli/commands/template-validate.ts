import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { UsageError } from '../../errors.ts';
import { loadTemplateOutcomes, templateKey } from './template-load.ts';

const HELP = `Usage: tasker-ctl template validate <file|dir>...

Checks YAML task templates locally with the same rules the database applies on registration
(no database needed). A directory stands for every *.yaml / *.yml file below it. Prints OK
with namespace/name@version for each good template, and for each bad one an [ERROR] line naming
the file, line, step and field.

Options:
  -h, --help  show this help

Exit status: 0 all valid, 1 any invalid (or unreadable), 2 usage error.`;

/** `tasker-ctl template validate`. */
export async function templateValidateCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { help: { type: 'boolean', short: 'h' } }, true);
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  if (positionals.length === 0) throw new UsageError('template validate needs at least one file or directory');
  const outcomes = await loadTemplateOutcomes(positionals);
  let invalid = 0;
  for (const outcome of outcomes) {
    if ('error' in outcome) {
      invalid += 1;
      console.error(`[ERROR] ${outcome.error.message}`);
    } else {
      const { template } = outcome;
      console.log(`OK     ${outcome.file}  ${templateKey(template)} (${template.steps.length} step${template.steps.length === 1 ? '' : 's'})`);
    }
  }
  if (invalid > 0) {
    console.error(`[ERROR] ${invalid} of ${outcomes.length} template file${outcomes.length === 1 ? '' : 's'} invalid`);
    return EXIT_FAILURE;
  }
  console.error(`[SUCCESS] ${outcomes.length} template${outcomes.length === 1 ? '' : 's'} valid`);
  return EXIT_OK;
}
