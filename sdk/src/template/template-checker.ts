/**
 * The shared machinery of template checks: reading typed fields out of a parsed document and
 * failing with a TemplateError that names the file, line, step and field. The rules themselves
 * live in check-template.ts, check-step.ts and check-graph.ts.
 */
import { closest } from './did-you-mean.ts';
import { TemplateError } from './errors.ts';
import type { IntRule, TextRule } from './template-rules.ts';
import type { DocPath, Locate } from './yaml-source.ts';

/** A plain object read from YAML or JSON. */
export type Fields = Record<string, unknown>;

/** Reads fields and reports the first problem. One checker per template file. */
export class TemplateChecker {
  /** Usable names of the steps checked so far, by index, so messages can say `steps[2] (charge)`. */
  readonly stepNames = new Map<number, string>();

  constructor(
    readonly file: string,
    private readonly locate: Locate | undefined,
  ) {}

  /** Throws a TemplateError for `path`, pointing at its key or its value. */
  fail(path: DocPath, problem: string, part: 'key' | 'value' = 'value'): never {
    const position = this.locate?.(path, part);
    const { display, step, field } = this.describe(path);
    throw new TemplateError(this.file, problem, {
      path: display,
      ...(step === undefined ? {} : { step }),
      ...(field === '' ? {} : { field }),
      ...(position === undefined ? {} : { line: position.line, column: position.column }),
    });
  }

  /** Rejects keys not in `allowed`, suggesting the likely intended one. */
  rejectUnknownKeys(object: Fields, allowed: readonly string[], path: DocPath, what: string): void {
    for (const key of Object.keys(object)) {
      if (allowed.includes(key)) continue;
      const suggestion = closest(key, allowed);
      this.fail(
        [...path, key],
        `unknown key ${JSON.stringify(key)}${suggestion === undefined ? '.' : `; did you mean "${suggestion}"?`} ` +
          `The keys of ${what} are: ${allowed.join(', ')}`,
        'key',
      );
    }
  }

  /** A string field; null counts as absent. Checks the pattern when a rule is given. */
  text(object: Fields, key: string, path: DocPath, options: { required: boolean; rule?: TextRule; hint?: string }): string | undefined {
    const value = object[key];
    if (value === undefined || value === null) {
      if (options.required) this.fail([...path, key], 'is required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.fail([...path, key], `must be a string, got ${describe(value)}${options.hint === undefined ? '' : ` (${options.hint})`}`);
    }
    if (options.rule !== undefined && !options.rule.pattern.test(value)) {
      this.fail([...path, key], `${JSON.stringify(value)} is not valid: ${options.rule.hint}`);
    }
    return value;
  }

  /** An optional whole number within the rule's range; null counts as absent. */
  int(object: Fields, key: string, path: DocPath, rule: IntRule): number | undefined {
    const value = object[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < rule.min || value > rule.max) {
      this.fail([...path, key], `must be a whole number from ${rule.min} to ${rule.max}, got ${describe(value)}`);
    }
    return value;
  }

  /** An optional mapping; null counts as absent. */
  mapping(object: Fields, key: string, path: DocPath, expected: string): Fields | undefined {
    const value = object[key];
    if (value === undefined || value === null) return undefined;
    if (!isFields(value)) this.fail([...path, key], `must be ${expected}, got ${describe(value)}`);
    return value;
  }

  private describe(path: DocPath): { display: string; step?: string; field: string } {
    if (path[0] === 'steps' && typeof path[1] === 'number') {
      const index = path[1];
      const name = this.stepNames.get(index);
      const rest = formatPath(path.slice(2));
      if (name !== undefined) {
        return { display: `steps[${index}] (${name})${rest}`, step: name, field: rest.replace(/^\./, '') };
      }
      const display = `steps[${index}]${rest}`;
      return { display, field: display };
    }
    const display = formatPath(path).replace(/^\./, '');
    return { display, field: display };
  }
}

/** True for plain objects (YAML mappings), not arrays or null. */
export function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How a value is named in messages: its JSON type and, for scalars, the value itself. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function formatPath(path: DocPath): string {
  return path.map((segment) => (typeof segment === 'number' ? `[${segment}]` : `.${segment}`)).join('');
}
