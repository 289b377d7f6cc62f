/**
 * docs/templates.md's example: load a directory of YAML templates, register them, see what a
 * mistake in a template looks like, and check task contexts against a template's input schema.
 * The test suite runs it (test/docs/handler-template-examples.test.ts).
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import {
  InvalidContextError,
  TemplateError,
  loadTemplateDir,
  parseTemplate,
  validateContext,
  type ContextViolation,
} from '../../sdk/src/template/index.ts';

/** What the example found, for the docs and the test. */
export interface TemplatesExampleOutcome {
  registered: string[];
  templateError: string;
  contextErrors: ContextViolation[];
}

export async function runTemplatesExample(databaseUrl: string): Promise<TemplatesExampleOutcome> {
  // 1. Every *.yaml / *.yml under the directory, checked, sorted by path.
  const dir = fileURLToPath(new URL('templates', import.meta.url));
  const loaded = await loadTemplateDir(dir);

  // 2. Register them; the database validates again (it is the authority) and fills in defaults.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const registered: string[] = [];
  try {
    for (const { template } of loaded) {
      const r = await registerTemplate(pool, template);
      registered.push(`${r.namespace}/${r.name}@${r.version}`);
    }
  } finally {
    await pool.end();
  }

  // 3. A mistake names the file, line, step and field.
  let templateError = '';
  try {
    parseTemplate(
      ['namespace: docs_orders', 'name: broken', 'version: 1.0.0', 'steps:', '  - name: charge', '    handler: orders.charge',
        '    retry: { max_attempts: 0 }'].join('\n'),
      'templates/broken.yaml',
    );
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    templateError = error.message;
  }

  // 4. A context is checked against input_schema before a task is created; every violation is listed.
  const orderReview = loaded.find((l) => l.template.name === 'order_review')?.template;
  let contextErrors: ContextViolation[] = [];
  try {
    validateContext(orderReview?.input_schema, { order_id: '', items: [{ sku: 'A', quantity: 0 }] }, 'docs_orders/order_review@1.0.0');
  } catch (error) {
    if (!(error instanceof InvalidContextError)) throw error;
    contextErrors = error.errors;
  }
  return { registered, templateError, contextErrors };
}
