/**
 * Checks a parsed template document and returns it as a TaskTemplate. The SQL validation
 * (tasker.validate_template) stays the authority on registration; these checks exist so that a
 * mistake is reported with the file, line, step and field it is in, and they are stricter in
 * one way: unknown keys are errors, because the database would silently drop them.
 *
 * The template is returned as written (no defaults filled in; `null` fields left out): the
 * database applies its defaults when the template is registered.
 */
import { NotJsonError, toJsonValue } from '../json/to-json-value.ts';
import type { JsonObject, TaskTemplate, TemplateStep } from '../protocol/types.ts';
import { checkBatchSteps } from './check-batch.ts';
import { checkAcyclic, checkDependencies } from './check-graph.ts';
import { checkStepFields, checkStepName } from './check-step.ts';
import { compileSchema, SchemaCompileError } from './schema-compiler.ts';
import { describe, isFields, TemplateChecker, type Fields } from './template-checker.ts';
import { MAX_STEPS, NAMESPACE, TASK_NAME, TEMPLATE_KEYS, VERSION } from './template-rules.ts';
import type { Locate } from './yaml-source.ts';

/**
 * Checks a template document (parsed YAML or JSON) and returns it typed. Throws TemplateError
 * naming `file`, and the line and column when `locate` can find them.
 */
export function checkTemplate(value: unknown, file: string, locate?: Locate): TaskTemplate {
  // Annotated so that `checker.fail(...)`, which returns never, narrows types below.
  const checker: TemplateChecker = new TemplateChecker(file, locate);
  if (value === null || value === undefined) {
    checker.fail([], 'the template is empty; a template is a mapping with namespace, name, version and steps');
  }
  if (!isFields(value)) {
    checker.fail([], `a template must be a mapping with namespace, name, version and steps, got ${describe(value)}`);
  }
  checker.rejectUnknownKeys(value, TEMPLATE_KEYS, [], 'a template');

  const template: TaskTemplate = {
    namespace: checker.text(value, 'namespace', [], { required: true, rule: NAMESPACE }) as string,
    name: checker.text(value, 'name', [], { required: true, rule: TASK_NAME }) as string,
    version: checker.text(value, 'version', [], {
      required: true,
      rule: VERSION,
      hint: 'write it in quotes, e.g. version: "1.0.0"',
    }) as string,
    steps: [],
  };
  const description = checker.text(value, 'description', [], { required: false });
  if (description !== undefined) {
    // The one free text field: what PostgreSQL cannot store (a NUL) is refused here, by name.
    try {
      toJsonValue(description, 'description');
    } catch (error) {
      if (!(error instanceof NotJsonError)) throw error;
      checker.fail(['description'], error.problem);
    }
    template.description = description;
  }
  const schema = checkInputSchema(checker, value);
  if (schema !== undefined) template.input_schema = schema;
  template.steps = checkSteps(checker, value);
  return template;
}

function checkInputSchema(checker: TemplateChecker, value: Fields): JsonObject | boolean | undefined {
  const schema = value['input_schema'];
  if (schema === undefined || schema === null) return undefined;
  if (typeof schema !== 'boolean' && !isFields(schema)) {
    checker.fail(['input_schema'], `must be a JSON Schema (a mapping), got ${describe(schema)}`);
  }
  let json: JsonObject | boolean;
  try {
    json = toJsonValue(schema, 'input_schema') as JsonObject | boolean;
  } catch (error) {
    if (!(error instanceof NotJsonError)) throw error;
    checker.fail(['input_schema'], error.message);
  }
  try {
    compileSchema(json);
  } catch (error) {
    if (!(error instanceof SchemaCompileError)) throw error;
    checker.fail(['input_schema'], `is not a valid JSON Schema: ${error.message}`);
  }
  return json;
}

function checkSteps(checker: TemplateChecker, value: Fields): TemplateStep[] {
  const rawSteps = value['steps'];
  if (!Array.isArray(rawSteps) || rawSteps.length === 0) {
    checker.fail(['steps'], `must be a non-empty list of steps, got ${rawSteps === undefined ? 'nothing' : describe(rawSteps)}`);
  }
  if (rawSteps.length > MAX_STEPS) checker.fail(['steps'], `has ${rawSteps.length} steps; the limit is ${MAX_STEPS}`);

  // Names first, so every later message can name its step and dependencies can be checked
  // against the full set.
  const seen = new Map<string, number>();
  const names = rawSteps.map((raw: unknown, index) => checkStepName(checker, raw, index, seen));
  const dependencies = checkDependencies(checker, rawSteps, names);
  const steps = rawSteps.map((raw: unknown, index) =>
    checkStepFields(checker, raw as Fields, index, names[index] as string, dependencies[index]),
  );
  checkAcyclic(checker, names, dependencies.map((deps) => deps ?? []));
  // Rules about the shape around batch steps, once every step and the graph are known to be valid.
  checkBatchSteps(checker, steps);
  return steps;
}
