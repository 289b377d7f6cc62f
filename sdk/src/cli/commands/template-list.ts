import { withClient } from '../../db/connect.ts';
import { listTemplates } from '../../protocol/templates.ts';
import { withDatabase } from '../database-session.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { formatTable, truncate } from '../format-table.ts';
import { parseOptions } from '../parse-options.ts';

const HELP = `Usage: tasker-ctl template list [--namespace NS] [--json]

Lists the task templates registered in the database (DATABASE_URL, or the embedded server):
namespace, name, version, number of steps and description.

Options:
  --namespace NS  only templates of this namespace
  --json          print the list as JSON
  -h, --help      show this help

Exit status: 0 listed (also when there is nothing to list), 1 database failure, 2 usage error.`;

/** `tasker-ctl template list`. */
export async function templateListCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, {
    namespace: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const namespace = values.namespace;
  const templates = await withDatabase((url) =>
    withClient(url, (client) => listTemplates(client, namespace === undefined ? {} : { namespace })),
  );
  if (values.json === true) {
    console.log(JSON.stringify(templates, null, 2));
    return EXIT_OK;
  }
  if (templates.length === 0) {
    console.error(`[INFO] no templates registered${namespace === undefined ? '' : ` in namespace ${namespace}`}`);
    return EXIT_OK;
  }
  const rows = templates.map((t) => [t.namespace, t.name, t.version, String(t.steps), truncate(t.description ?? '', 60)]);
  for (const line of formatTable(['NAMESPACE', 'NAME', 'VERSION', 'STEPS', 'DESCRIPTION'], rows)) console.log(line);
  return EXIT_OK;
}
