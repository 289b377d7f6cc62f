/**
 * Errors of YAML task templates and of task contexts checked against a template's input schema.
 * Template errors name the file (and line, when known), the step and the field, so a mistake can
 * be found without reading the whole template.
 */
import { TaskerError } from '../errors.ts';

/** Where in a template a problem is. */
export interface TemplateErrorLocation {
  /** The step's name (when the step has a usable one). */
  step?: string;
  /**
   * The field: relative to the step when `step` is set (`retry.max_attempts`), otherwise from the
   * top of the template (`namespace`, `steps[2].name`).
   */
  field?: string;
  /** How the field is shown in the message, e.g. `steps[2] (charge_payment).retry.max_attempts`. */
  path?: string;
  /** 1-based line and column in the file, when known. */
  line?: number;
  column?: number;
}

/**
 * A template is invalid. The message reads like
 * `templates/order.yaml:14:7: steps[2] (charge_payment).retry.max_attempts: must be a whole number from 1 to 1000, got 0`.
 */
export class TemplateError extends TaskerError {
  readonly file: string;
  readonly step?: string;
  readonly field?: string;
  readonly line?: number;
  readonly column?: number;
  /** The field as the message shows it, e.g. `steps[2] (charge_payment).retry.max_attempts` (the SQL validation's `field`). */
  readonly path?: string;
  /** The problem alone, without file and field. */
  readonly problem: string;

  constructor(file: string, problem: string, location: TemplateErrorLocation = {}, options?: { cause?: unknown }) {
    const where = location.line === undefined ? file : `${file}:${location.line}:${location.column ?? 1}`;
    const path = location.path ?? location.field;
    super('TEMPLATE_INVALID', `${where}: ${path === undefined || path === '' ? '' : `${path}: `}${problem}`, options);
    this.file = file;
    this.problem = problem;
    if (location.step !== undefined) this.step = location.step;
    if (location.field !== undefined) this.field = location.field;
    if (path !== undefined && path !== '') this.path = path;
    if (location.line !== undefined) this.line = location.line;
    if (location.column !== undefined) this.column = location.column;
  }
}

/** Two template files define the same namespace/name/version. */
export class DuplicateTemplateError extends TemplateError {
  constructor(
    file: string,
    /** The file that defined it first. */
    readonly firstFile: string,
    /** `namespace/name@version`. */
    readonly template: string,
  ) {
    super(file, `template ${template} is also defined in ${firstFile}`);
  }
}

/** One way a context breaks its template's input schema. */
export interface ContextViolation {
  /** JSON pointer to the offending value ('' is the context itself), e.g. `/items/0/quantity`. */
  path: string;
  message: string;
}

/** A task context does not satisfy its template's input schema; `errors` lists every violation. */
export class InvalidContextError extends TaskerError {
  constructor(
    /** The template, e.g. `shop/order@1.0.0`. */
    readonly template: string,
    readonly errors: ContextViolation[],
  ) {
    super(
      'CONTEXT_INVALID',
      `the context does not match the input_schema of ${template}: ` +
        errors.map((e) => `${e.path === '' ? '(the context)' : e.path} ${e.message}`).join('; '),
    );
  }
}

/** A template's input_schema is not a JSON Schema that can be compiled. */
export class InvalidInputSchemaError extends TaskerError {
  constructor(
    /** The template, e.g. `shop/order@1.0.0`. */
    readonly template: string,
    /** What the schema compiler said. */
    readonly problem: string,
  ) {
    super('INPUT_SCHEMA_INVALID', `the input_schema of ${template} is not a valid JSON Schema: ${problem}`);
  }
}
