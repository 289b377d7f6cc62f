/**
 * parseTemplate: YAML text to a checked TaskTemplate, with errors that point into the file.
 */
import type { TaskTemplate } from '../protocol/types.ts';
import { checkTemplate } from './check-template.ts';
import { readYaml } from './yaml-source.ts';

/**
 * Parses and checks one YAML task template. Throws TemplateError naming `file` (and line and
 * column: YAML syntax errors always, other problems wherever the field is written).
 *
 * @example
 * const template = parseTemplate(await readFile('templates/order.yaml', 'utf8'), 'templates/order.yaml');
 * await registerTemplate(pool, template);
 */
export function parseTemplate(yamlText: string, file: string): TaskTemplate {
  const source = readYaml(yamlText, file);
  return checkTemplate(source.value, file, source.locate);
}
