import { withClient } from '../../db/connect.ts';
import { UsageError } from '../../errors.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import { registerTemplate } from '../../protocol/templates.ts';
import type { RegisteredTemplate } from '../../protocol/types.ts';
import { withDatabase } from '../database-session.ts';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { loadTemplateOutcomes, templateKey } from './template-load.ts';

const HELP = `Usage: tasker-ctl template register <file|dir>... [--json]

Validates YAML task templates (as \`template validate\` does) and registers them in the
database in DATABASE_URL, or the embedded server when DATABASE_URL is not set. All or nothing:
when any file is invalid, or the database refuses one, nothing is registered. Registering an
identical definition again changes nothing and says so.

Options:
  --json      print the registered templates as JSON
  -h, --help  show this help

Exit status: 0 registered, 1 invalid template or database failure, 2 usage error.`;

/** `tasker-ctl template register`. */
export async function templateRegisterCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  if (positionals.length === 0) throw new UsageError('template register needs at least one file or directory');
  const outcomes = await loadTemplateOutcomes(positionals);
  const templates = outcomes.flatMap((outcome) => ('template' in outcome ? [outcome] : []));
  if (templates.length < outcomes.length) {
    for (const outcome of outcomes) if ('error' in outcome) console.error(`[ERROR] ${outcome.error.message}`);
    console.error('[ERROR] nothing registered: fix the templates above first');
    return EXIT_FAILURE;
  }

  const registered = await withDatabase((url) =>
    withClient(url, async (client) => {
      const results: Array<RegisteredTemplate & { file: string }> = [];
      await client.query('BEGIN');
      try {
        for (const { file, template } of templates) {
          try {
            results.push({ ...(await registerTemplate(client, template)), file });
          } catch (error) {
            // The database is the authority; say which file it refused.
            if (error instanceof ProtocolError) {
              console.error(`[ERROR] ${file}: ${templateKey(template)}: ${error.message}${error.field === undefined ? '' : ` (field ${error.field})`}`);
              console.error('[ERROR] nothing registered');
              await client.query('ROLLBACK');
              return undefined;
            }
            throw error;
          }
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
      return results;
    }),
  );
  if (registered === undefined) return EXIT_FAILURE;

  if (values.json === true) {
    console.log(JSON.stringify(registered, null, 2));
    return EXIT_OK;
  }
  for (const result of registered) {
    console.log(`${result.changed ? 'changed  ' : 'unchanged'}  ${templateKey(result)}  (${result.file})`);
  }
  const changed = registered.filter((result) => result.changed).length;
  console.error(`[SUCCESS] ${registered.length} template${registered.length === 1 ? '' : 's'} registered, ${changed} changed`);
  return EXIT_OK;
}
