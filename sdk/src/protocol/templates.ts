import { callProtocol } from './call.ts';
import type { Queryable, RegisteredTemplate, TaskTemplate } from './types.ts';

interface RegisterRow {
  named_task_id: string;
  namespace: string;
  name: string;
  version: string;
  changed: boolean;
}

/**
 * Registers (upserts) a task template: `tasker.register_template`. Throws
 * `InvalidTemplateError` naming the field for any invalid template.
 *
 * @example
 * await registerTemplate(pool, { namespace: 'shop', name: 'order', version: '1.0.0',
 *   steps: [{ name: 'charge', handler: 'shop.charge' }] });
 */
export async function registerTemplate(db: Queryable, template: TaskTemplate): Promise<RegisteredTemplate> {
  const rows = await callProtocol<RegisterRow>(db, 'SELECT * FROM tasker.register_template($1::jsonb)', [
    JSON.stringify(template),
  ]);
  const row = rows[0];
  if (row === undefined) throw new Error('tasker.register_template returned no row');
  return {
    namedTaskId: row.named_task_id,
    namespace: row.namespace,
    name: row.name,
    version: row.version,
    changed: row.changed,
  };
}

/**
 * Validates a template without registering it (`tasker.validate_template`) and returns it
 * normalised, with every default filled in.
 */
export async function validateTemplate(db: Queryable, template: TaskTemplate): Promise<TaskTemplate> {
  const rows = await callProtocol<{ template: TaskTemplate }>(
    db,
    'SELECT tasker.validate_template($1::jsonb) AS template',
    [JSON.stringify(template)],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('tasker.validate_template returned no row');
  return row.template;
}
