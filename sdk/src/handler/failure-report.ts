/**
 * How a failed execution is reported: which outcome a thrown value or an abort reason maps to,
 * and the error document stored with the step (`{ kind, message, details?, code?, cause?, stack? }`,
 * always JSON). Messages and stacks are redacted: they end up in task_status, which is shown to
 * people.
 */
import { cutText } from '../cut-text.ts';
import { toJsonValue, NotJsonError } from '../json/to-json-value.ts';
import type { JsonObject, JsonValue } from '../protocol/types.ts';
import {
  PermanentError,
  RetryableError,
  StepCancelledError,
  StepTimeoutError,
  WorkerShutdownError,
  LeaseLapsedError,
} from './errors.ts';
import { redactText } from './redact.ts';

/** The failure part of a step report. */
export interface FailureReport {
  outcome: 'retryable_failure' | 'permanent_failure';
  error: JsonObject;
  retryAfterMs?: number;
}

const STACK_LINES = 10;
const MAX_CAUSES = 3;
const MAX_DESCRIBED = 500;

/** Maps what a handler threw to its report (see docs/handlers.md for the table). */
export function failureFromThrown(thrown: unknown): FailureReport {
  if (thrown instanceof RetryableError) {
    const failure: FailureReport = { outcome: 'retryable_failure', error: errorDocument(thrown, thrown.name, thrown.details) };
    if (thrown.retryAfterMs !== undefined) failure.retryAfterMs = thrown.retryAfterMs;
    return failure;
  }
  if (thrown instanceof PermanentError) {
    return { outcome: 'permanent_failure', error: errorDocument(thrown, thrown.name, thrown.details) };
  }
  if (thrown instanceof StepTimeoutError) {
    return { outcome: 'retryable_failure', error: errorDocument(thrown, 'StepTimeout', { timeoutMs: thrown.timeoutMs }) };
  }
  // Retryable: in a task that stopped, it ends the step all the same ("not retried: task is
  // cancelled"); in a task retried while the aborted handler wound down, it must not fail the
  // task again, and the step runs once more instead.
  if (thrown instanceof StepCancelledError) {
    return { outcome: 'retryable_failure', error: errorDocument(thrown, 'StepCancelled') };
  }
  if (thrown instanceof WorkerShutdownError) {
    return { outcome: 'retryable_failure', error: errorDocument(thrown, 'WorkerShutdown') };
  }
  if (thrown instanceof LeaseLapsedError) {
    return { outcome: 'retryable_failure', error: errorDocument(thrown, 'LeaseLapsed') };
  }
  if (thrown instanceof Error) {
    return { outcome: 'retryable_failure', error: errorDocument(thrown, safeName(thrown)) };
  }
  return { outcome: 'retryable_failure', error: nonErrorDocument(thrown) };
}

/**
 * Maps the reason a step's signal was aborted with to its report. The worker's reasons are
 * StepTimeoutError, StepCancelledError and WorkerShutdownError; a DOMException `TimeoutError`
 * (from `AbortSignal.timeout`) counts as a timeout, and anything else is a retryable `StepAborted`.
 */
export function failureFromAbort(reason: unknown): FailureReport {
  if (reason instanceof StepTimeoutError || reason instanceof StepCancelledError || reason instanceof WorkerShutdownError || reason instanceof LeaseLapsedError) {
    return failureFromThrown(reason);
  }
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return { outcome: 'retryable_failure', error: errorDocument(reason, 'StepTimeout') };
  }
  return {
    outcome: 'retryable_failure',
    error: { kind: 'StepAborted', message: `the step's signal was aborted: ${describeValue(reason)}` },
  };
}

/** A failure that is not an Error from the handler (unknown handler, invalid result...). */
export function failure(outcome: FailureReport['outcome'], kind: string, message: string, details?: JsonObject): FailureReport {
  const error: JsonObject = { kind, message: redactText(message) };
  if (details !== undefined) error['details'] = details;
  return { outcome, error };
}

function errorDocument(error: Error, kind: string, details?: unknown, depth = 0): JsonObject {
  const doc: JsonObject = { kind, message: redactText(safeMessage(error)) };
  if (details !== undefined) doc['details'] = jsonDetails(details);
  // Any of these may be a getter that throws (V8 builds `stack` lazily and reads `message` for
  // it): what cannot be read is left out, the rest of the document kept.
  const code = safeRead(() => (error as { code?: unknown }).code);
  if (typeof code === 'string' || (typeof code === 'number' && Number.isFinite(code))) doc['code'] = code;
  const cause = safeRead(() => error.cause);
  if (cause !== undefined && depth < MAX_CAUSES) {
    doc['cause'] = cause instanceof Error ? errorDocument(cause, safeName(cause), undefined, depth + 1) : describeValue(cause);
  }
  const stack = safeRead(() => error.stack);
  if (typeof stack === 'string') doc['stack'] = redactText(stack.split('\n').slice(0, STACK_LINES).join('\n'));
  return doc;
}

// Details come from handler code: typed as JSON, but nothing stops a BigInt at run time. Keep
// the report valid and say what was wrong rather than lose the whole error.
function jsonDetails(details: unknown): JsonValue {
  try {
    return toJsonValue(details, 'details');
  } catch (error) {
    return { notJson: error instanceof NotJsonError ? error.message : String(error) };
  }
}

function nonErrorDocument(thrown: unknown): JsonObject {
  const doc: JsonObject = {
    kind: 'NonErrorThrown',
    message: redactText(`the handler threw ${describeValue(thrown)} instead of an Error (throw an Error to get a stack trace)`),
  };
  if (typeof thrown === 'object' && thrown !== null) {
    try {
      doc['details'] = { thrown: toJsonValue(thrown, 'thrown') };
    } catch {
      // Not JSON: the description in the message is all we can keep.
    }
  }
  return doc;
}

/**
 * A short description of any value, e.g. `a string: "boom"`, `undefined`, `an object: {"a":1}`.
 * Never throws, even for a value whose getters throw (itself, say).
 */
export function describeValue(value: unknown): string {
  try {
    return describeAny(value);
  } catch {
    return 'a value that cannot be described (reading it threw)';
  }
}

function safeRead(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function describeAny(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return `a string: ${truncate(redactText(JSON.stringify(value)))}`;
    case 'number':
    case 'boolean':
      return `a ${typeof value}: ${String(value)}`;
    case 'bigint':
      return `a BigInt: ${String(value)}n`;
    case 'symbol':
      return `a symbol: ${value.toString()}`;
    case 'function':
      return `a function${value.name ? ` (${value.name})` : ''}`;
  }
  if (value === null) return 'null';
  if (value instanceof Error) return `${safeName(value)}: ${truncate(redactText(safeMessage(value)))}`;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  const kind = Array.isArray(value) ? 'an array' : 'an object';
  return json === undefined ? `${kind} (${Object.prototype.toString.call(value)})` : `${kind}: ${truncate(redactText(json))}`;
}

// Redacted before it is cut: a URL cut before its '@' no longer looks like one.
function truncate(text: string): string {
  return cutText(text, MAX_DESCRIBED);
}

function safeName(error: Error): string {
  try {
    return typeof error.name === 'string' && error.name !== '' ? error.name : 'Error';
  } catch {
    return 'Error';
  }
}

function safeMessage(error: Error): string {
  try {
    return String(error.message);
  } catch {
    return '(the error message could not be read)';
  }
}
