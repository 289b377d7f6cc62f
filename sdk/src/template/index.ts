/**
 * YAML task templates: parsing and checking them with errors that name the file, line, step and
 * field; loading a directory of them; and checking a task's context against a template's input
 * schema.
 */
export { parseTemplate } from './parse-template.ts';
export { checkTemplate } from './check-template.ts';
export { loadTemplateFile, loadTemplateDir } from './load-templates.ts';
export { validateContext } from './validate-context.ts';
export {
  TemplateError,
  DuplicateTemplateError,
  InvalidContextError,
  InvalidInputSchemaError,
} from './errors.ts';
export type { TemplateErrorLocation, ContextViolation } from './errors.ts';
