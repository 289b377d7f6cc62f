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

/** A registered template, as `listTemplates` describes it. */
export interface TemplateSummary {
  namespace: string;
  name: string;
  version: string;
  description: string | null;
  /** Number of steps in the template. */
  steps: number;
  updatedAt: Date;
}

interface TemplateSummaryRow {
  namespace: string;
  name: string;
  version: string;
  description: string | null;
  steps: number;
  updated_at: Date;
}

/**
 * Lists registered templates, optionally of one namespace, ordered by namespace, name and
 * version (numerically: 1.10.0 after 1.9.0). A plain read of the template tables.
 */
export async function listTemplates(db: Queryable, options: { namespace?: string } = {}): Promise<TemplateSummary[]> {
  const rows = await callProtocol<TemplateSummaryRow>(
    db,
    `SELECT n.name AS namespace, nt.name, nt.version, nt.description, nt.updated_at,
            (SELECT count(*)::int FROM tasker.named_steps ns WHERE ns.named_task_id = nt.named_task_id) AS steps
     FROM tasker.named_tasks nt JOIN tasker.namespaces n ON n.namespace_id = nt.namespace_id
     WHERE $1::text IS NULL OR n.name = $1
     ORDER BY n.name, nt.name, nt.version_sort`,
    [options.namespace ?? null],
  );
  return rows.map((row) => ({
    namespace: row.namespace,
    name: row.name,
    version: row.version,
    description: row.description,
    steps: row.steps,
    updatedAt: row.updated_at,
  }));
}
