/**
 * Checks a task context against its template's input schema before the task is created, and
 * reports every violation at once with a JSON pointer to it, so a caller can fix them all in one
 * go.
 */
import type { JsonObject } from '../protocol/types.ts';
import { InvalidContextError, InvalidInputSchemaError, type ContextViolation } from './errors.ts';
import { compileSchema, SchemaCompileError, type ErrorList, type SchemaCheck } from './schema-compiler.ts';

/**
 * Compiles once and caches by schema; throws InvalidContextError listing each violation with its
 * JSON pointer. A missing schema (undefined, null, true) accepts every context. Throws
 * InvalidInputSchemaError when the schema itself does not compile.
 *
 * @example validateContext(template.input_schema, { orderId: 7 }, 'shop/order@1.0.0');
 */
export function validateContext(
  schema: JsonObject | boolean | undefined | null,
  context: JsonObject,
  templateLabel: string,
): void {
  if (schema === undefined || schema === null || schema === true) return;
  if (schema === false) {
    throw new InvalidContextError(templateLabel, [{ path: '', message: 'is rejected: the input_schema is false, which accepts no context' }]);
  }
  let check: SchemaCheck;
  try {
    check = compileSchema(schema);
  } catch (error) {
    if (error instanceof SchemaCompileError) throw new InvalidInputSchemaError(templateLabel, error.message);
    throw error;
  }
  const errors = check(context);
  if (errors.length > 0) throw new InvalidContextError(templateLabel, errors.map(toViolation));
}

function toViolation(error: ErrorList[number]): ContextViolation {
  const params = error.params as Record<string, unknown>;
  // ajv reports a missing or extra property at its parent; point at the property itself.
  if (error.keyword === 'required' && typeof params['missingProperty'] === 'string') {
    return { path: `${error.instancePath}/${escapePointer(params['missingProperty'])}`, message: 'is required' };
  }
  if (error.keyword === 'additionalProperties' && typeof params['additionalProperty'] === 'string') {
    return { path: `${error.instancePath}/${escapePointer(params['additionalProperty'])}`, message: 'is not an allowed property' };
  }
  return { path: error.instancePath, message: error.message ?? `fails ${error.keyword}` };
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}
