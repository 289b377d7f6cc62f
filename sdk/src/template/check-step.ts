/**
 * Checks of one template step: its keys, name, handler, type, inputs, retry and timeouts. The
 * rules match tasker.validate_template (migrations/0002_templates.sql); dependencies are checked
 * across steps in check-graph.ts.
 */
import { NotJsonError, toJsonValue } from '../json/to-json-value.ts';
import type { JsonObject, RetrySettings, StepType, TemplateStep } from '../protocol/types.ts';
import { describe, isFields, type TemplateChecker } from './template-checker.ts';
import {
  BACKOFF_MS,
  DEFAULT_BACKOFF_MS,
  HANDLER_NAME,
  MAX_ATTEMPTS,
  MAX_BACKOFF_MS,
  MAX_DELIVERIES,
  RETRY_KEYS,
  STEP_KEYS,
  STEP_NAME,
  STEP_TYPES,
  TIMEOUT_MS,
} from './template-rules.ts';

/**
 * First pass over a step: it is a mapping with known keys and a valid, unique name. Records the
 * name so later messages can show it.
 */
export function checkStepName(checker: TemplateChecker, raw: unknown, index: number, seen: Map<string, number>): string {
  const path = ['steps', index] as const;
  if (!isFields(raw)) checker.fail(path, `a step must be a mapping (name, handler, ...), got ${describe(raw)}`);
  // A usable name is shown in every message about the step, including one about an unknown key.
  if (typeof raw['name'] === 'string' && STEP_NAME.pattern.test(raw['name'])) checker.stepNames.set(index, raw['name']);
  checker.rejectUnknownKeys(raw, STEP_KEYS, path, 'a step');
  const name = checker.text(raw, 'name', path, { required: true, rule: STEP_NAME }) as string;
  checker.stepNames.set(index, name);
  const first = seen.get(name);
  if (first !== undefined) checker.fail([...path, 'name'], `duplicate step name "${name}" (also steps[${first}])`);
  seen.set(name, index);
  return name;
}

/** Second pass: every other field; `dependencies` were checked against the whole step list (check-graph.ts). */
export function checkStepFields(
  checker: TemplateChecker,
  raw: Record<string, unknown>,
  index: number,
  name: string,
  dependencies: string[] | undefined,
): TemplateStep {
  const path = ['steps', index] as const;
  const step: TemplateStep = {
    name,
    handler: checker.text(raw, 'handler', path, { required: true, rule: HANDLER_NAME }) as string,
  };
  const type = checker.text(raw, 'type', path, { required: false });
  if (type !== undefined) {
    if (!(STEP_TYPES as readonly string[]).includes(type)) {
      checker.fail([...path, 'type'], `${JSON.stringify(type)} is not valid: the step types are ${STEP_TYPES.join(', ')}`);
    }
    step.type = type as StepType;
  }
  if (dependencies !== undefined) step.dependencies = dependencies;
  const retry = checkRetry(checker, raw, path);
  if (retry !== undefined) step.retry = retry;
  const inputs = checker.mapping(raw, 'inputs', path, 'a mapping of static inputs');
  if (inputs !== undefined) step.inputs = jsonInputs(checker, inputs, [...path, 'inputs']);
  const timeout = checker.int(raw, 'timeout_ms', path, TIMEOUT_MS);
  if (timeout !== undefined) step.timeout_ms = timeout;
  const deliveries = checker.int(raw, 'max_deliveries', path, MAX_DELIVERIES);
  if (deliveries !== undefined) step.max_deliveries = deliveries;
  return step;
}

function checkRetry(checker: TemplateChecker, raw: Record<string, unknown>, stepPath: readonly (string | number)[]): RetrySettings | undefined {
  const retry = checker.mapping(raw, 'retry', stepPath, 'a mapping with max_attempts, backoff_ms, max_backoff_ms, retryable');
  if (retry === undefined) return undefined;
  const path = [...stepPath, 'retry'];
  checker.rejectUnknownKeys(retry, RETRY_KEYS, path, 'retry');
  const settings: RetrySettings = {};
  const maxAttempts = checker.int(retry, 'max_attempts', path, MAX_ATTEMPTS);
  if (maxAttempts !== undefined) settings.max_attempts = maxAttempts;
  const backoff = checker.int(retry, 'backoff_ms', path, BACKOFF_MS);
  if (backoff !== undefined) settings.backoff_ms = backoff;
  const maxBackoff = checker.int(retry, 'max_backoff_ms', path, MAX_BACKOFF_MS);
  if (maxBackoff !== undefined) {
    const effectiveBackoff = backoff ?? DEFAULT_BACKOFF_MS;
    if (maxBackoff < effectiveBackoff) {
      checker.fail(
        [...path, 'max_backoff_ms'],
        `must be at least backoff_ms (${effectiveBackoff}${backoff === undefined ? ', the default' : ''}), got ${maxBackoff}`,
      );
    }
    settings.max_backoff_ms = maxBackoff;
  }
  // Unlike the numbers, the database refuses `retryable: null`, so it is refused here too.
  if ('retryable' in retry) {
    if (typeof retry['retryable'] !== 'boolean') {
      checker.fail([...path, 'retryable'], `must be true or false, got ${describe(retry['retryable'])}`);
    }
    settings.retryable = retry['retryable'];
  }
  return settings;
}

function jsonInputs(checker: TemplateChecker, inputs: Record<string, unknown>, path: readonly (string | number)[]): JsonObject {
  try {
    return toJsonValue(inputs, 'inputs') as JsonObject;
  } catch (error) {
    if (!(error instanceof NotJsonError)) throw error;
    checker.fail(path, error.message);
  }
}
