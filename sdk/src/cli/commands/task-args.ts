import { UsageError } from '../../errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The single `<task-id>` argument of a task subcommand. Checked here because the database would
 * answer a malformed id with a raw cast error rather than "unknown task".
 */
export function taskIdArgument(positionals: readonly string[], command: string): string {
  const [taskId, ...extra] = positionals;
  if (taskId === undefined) throw new UsageError(`${command} needs a task id`);
  if (extra.length > 0) throw new UsageError(`${command} takes one task id, got also: ${extra.join(' ')}`);
  if (!UUID.test(taskId)) throw new UsageError(`${command}: "${taskId}" is not a task id (a UUID)`);
  return taskId.toLowerCase();
}

/** `namespace/name[@version]`, split. */
export interface TemplateRef {
  namespace: string;
  name: string;
  version?: string;
}

/** Parses `namespace/name[@version]`; the database checks that the template exists. */
export function templateRefArgument(text: string): TemplateRef {
  const match = /^([^/@\s]+)\/([^/@\s]+)(?:@([^/@\s]+))?$/.exec(text);
  if (match === null) throw new UsageError(`"${text}" is not a template reference: expected namespace/name or namespace/name@version`);
  const [, namespace = '', name = '', version] = match;
  return version === undefined ? { namespace, name } : { namespace, name, version };
}
