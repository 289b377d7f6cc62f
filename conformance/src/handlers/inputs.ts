/**
 * Typed reads of a step's static `inputs:`. A scenario whose template gives a handler the wrong
 * input is a bug in the scenario, so these throw (a permanent failure shows up in the trace).
 */
import { PermanentError, type JsonObject, type JsonValue } from '@tasker/sdk';

/** `inputs[key]` as a list of strings; `[]` when absent. */
export function stringList(inputs: JsonObject, key: string): string[] {
  const value = inputs[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    throw new PermanentError(`input "${key}" must be a list of strings, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `inputs[key]` as a number; `fallback` when absent. */
export function numberInput(inputs: JsonObject, key: string, fallback: number): number {
  const value = inputs[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new PermanentError(`input "${key}" must be a number, got ${JSON.stringify(value)}`);
  return value;
}

/** `inputs[key]` as a boolean; `fallback` when absent. */
export function booleanInput(inputs: JsonObject, key: string, fallback: boolean): boolean {
  const value = inputs[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new PermanentError(`input "${key}" must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

/** `value` as a JSON object, or a permanent failure naming `what`. */
export function objectValue(value: JsonValue | undefined, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PermanentError(`${what} must be an object, got ${JSON.stringify(value)}`);
  }
  return value;
}
