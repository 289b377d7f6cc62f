import { UsageError } from '../../errors.ts';
import { TASK_TIMEOUT_MS } from '../../protocol/tasks.ts';
import type { CreateTaskInput } from '../../protocol/types.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { integerOption, parseOptions } from '../parse-options.ts';
import { templateRefArgument } from './task-args.ts';
import { withTaskerClient } from './task-client.ts';
import { readContext } from './task-context.ts';
import { watchTask } from './task-watcher.ts';

const HELP = `Usage: tasker-ctl task create <namespace>/<name>[@version] [options]

Creates a task from a registered template (the highest version when @version is left out),
after checking the context against the template's input_schema. Prints the task id alone on
stdout (for ID=$(tasker-ctl task create ...)); whether it was created or already existed for
the idempotency key goes to stderr.

Options:
  --context JSON           the task context, a JSON object (default {})
  --context-file PATH      read the context from a file ("-" reads stdin)
  --idempotency-key K      return the existing task when this key was used for the template
  --correlation-id ID      correlation id recorded on the task (default: generated)
  --timeout-ms N           fail the task if it has not finished N ms after creation
                           (enforced by a running orchestrator)
  --wait                   then wait for the task, printing step changes as \`task watch\` does
  --wait-timeout-ms N      with --wait: stop waiting after N ms
  --json                   print {"taskId", "created", "state"} as JSON (with --wait: the
                           finished task, as \`task get --json\` prints it)
  -h, --help               show this help

Exit status: 0 created (with --wait: the task completed), 1 failure (unknown template, context
refused by the input_schema, database), 2 usage error; with --wait also 3 the task ended in
error or was cancelled, 4 the wait timed out.`;

/** `tasker-ctl task create`. */
export async function taskCreateCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    {
      context: { type: 'string' },
      'context-file': { type: 'string' },
      'idempotency-key': { type: 'string' },
      'correlation-id': { type: 'string' },
      'timeout-ms': { type: 'string' },
      wait: { type: 'boolean' },
      'wait-timeout-ms': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const [reference, ...extra] = positionals;
  if (reference === undefined) throw new UsageError('task create needs a template: namespace/name[@version]');
  if (extra.length > 0) throw new UsageError(`task create takes one template, got also: ${extra.join(' ')}`);
  const template = templateRefArgument(reference);
  const timeoutMs = integerOption(values['timeout-ms'], '--timeout-ms', TASK_TIMEOUT_MS.min, TASK_TIMEOUT_MS.max);
  const waitTimeoutMs = integerOption(values['wait-timeout-ms'], '--wait-timeout-ms', 1);
  if (waitTimeoutMs !== undefined && values.wait !== true) throw new UsageError('--wait-timeout-ms needs --wait');
  const key = values['idempotency-key'];
  // The database's own range (create_task), in characters: a usage error, before any connection.
  if (key !== undefined && ([...key].length < 1 || [...key].length > 255)) {
    throw new UsageError(`--idempotency-key must be 1 to 255 characters, got ${[...key].length}`);
  }
  const context = await readContext(values.context, values['context-file']);
  const input: CreateTaskInput = {
    ...template,
    context,
    initiator: 'tasker-ctl',
    ...(values['idempotency-key'] === undefined ? {} : { idempotencyKey: values['idempotency-key'] }),
    ...(values['correlation-id'] === undefined ? {} : { correlationId: values['correlation-id'] }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
  const json = values.json === true;

  return withTaskerClient(async (client) => {
    const created = await client.createTask(input);
    if (json && values.wait !== true) console.log(JSON.stringify(created, null, 2));
    if (!json) console.log(created.taskId);
    console.error(
      created.created
        ? `[SUCCESS] created task ${created.taskId} (${template.namespace}/${template.name}${template.version === undefined ? '' : `@${template.version}`}, ${created.state})`
        : `[INFO] task ${created.taskId} already existed for idempotency key ${values['idempotency-key'] ?? ''} (${created.state})`,
    );
    if (values.wait !== true) return EXIT_OK;
    const watched = await watchTask(client, created.taskId, {
      showChanges: !json,
      ...(waitTimeoutMs === undefined ? {} : { timeoutMs: waitTimeoutMs }),
    });
    if (json) console.log(JSON.stringify(watched.task, null, 2));
    return watched.exitStatus;
  });
}
