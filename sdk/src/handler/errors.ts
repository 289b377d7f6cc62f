/**
 * Errors of the handler API: the two a handler throws to choose its outcome (RetryableError,
 * PermanentError), the three a worker aborts a step's signal with (StepTimeoutError,
 * StepCancelledError, WorkerShutdownError), and the mistakes the API itself reports.
 */
import { TaskerError } from '../errors.ts';
import type { JsonObject } from '../protocol/types.ts';

// The SQL protocol accepts retry_after_ms from 0 to one day (migrations/0005_report.sql).
const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * Thrown by a handler: this attempt failed, try again (if the step has attempts left).
 * `retryAfterMs` overrides the template's backoff for this retry.
 *
 * @example throw new RetryableError('payment gateway busy', { retryAfterMs: 5_000 });
 */
export class RetryableError extends TaskerError {
  /** Delay before the next attempt, in milliseconds; the template's backoff when absent. */
  readonly retryAfterMs?: number;
  /** Extra facts stored with the error (must be JSON). */
  readonly details?: JsonObject;

  constructor(message: string, options: { retryAfterMs?: number; details?: JsonObject; cause?: unknown } = {}) {
    super('STEP_RETRYABLE', message, 'cause' in options ? { cause: options.cause } : undefined);
    const { retryAfterMs } = options;
    if (retryAfterMs !== undefined) {
      if (typeof retryAfterMs !== 'number' || !Number.isFinite(retryAfterMs) || retryAfterMs < 0 || retryAfterMs > MAX_RETRY_AFTER_MS) {
        throw new RangeError(
          `RetryableError: retryAfterMs must be a number of milliseconds from 0 to ${MAX_RETRY_AFTER_MS}, got ${String(retryAfterMs)}`,
        );
      }
      this.retryAfterMs = Math.round(retryAfterMs);
    }
    if (options.details !== undefined) this.details = options.details;
  }
}

/**
 * Thrown by a handler: this step cannot succeed, however often it is tried. The step errors at
 * once, and so does its task.
 *
 * @example throw new PermanentError('card declined', { details: { code: 'do_not_honor' } });
 */
export class PermanentError extends TaskerError {
  /** Extra facts stored with the error (must be JSON). */
  readonly details?: JsonObject;

  constructor(message: string, options: { details?: JsonObject; cause?: unknown } = {}) {
    super('STEP_PERMANENT', message, 'cause' in options ? { cause: options.cause } : undefined);
    if (options.details !== undefined) this.details = options.details;
  }
}

/** Abort reason: the step ran longer than its `timeout_ms`. Reported as a retryable failure. */
export class StepTimeoutError extends TaskerError {
  constructor(readonly timeoutMs: number) {
    super('STEP_TIMEOUT', `the step did not finish within its timeout of ${timeoutMs} ms`);
  }
}

/** Abort reason: the step's task was cancelled (or its lease is gone). Reported as a permanent failure. */
export class StepCancelledError extends TaskerError {
  constructor(readonly reason = 'the task was cancelled') {
    super('STEP_CANCELLED', `the step was cancelled: ${reason}`);
  }
}

/** Abort reason: the worker is shutting down and stopped waiting for the handler. Reported as a retryable failure. */
export class WorkerShutdownError extends TaskerError {
  constructor(message = 'the worker is shutting down') {
    super('WORKER_SHUTDOWN', message);
  }
}

/** `ctx.dependencyResult(name)` named a step whose result this step did not receive (not a dependency, or skipped). */
export class UnknownDependencyError extends TaskerError {
  constructor(
    readonly stepName: string,
    readonly dependency: string,
    readonly available: readonly string[],
  ) {
    super(
      'DEPENDENCY_UNKNOWN',
      `step "${stepName}" has no result from a dependency named "${dependency}"; ` +
        (available.length === 0
          ? 'no dependency results are available (it has no dependencies, or they were skipped)'
          : `results are available from: ${available.join(', ')}`),
    );
  }
}

/** Two handlers were registered under one name. */
export class DuplicateHandlerError extends TaskerError {
  constructor(readonly handlerName: string) {
    super('HANDLER_DUPLICATE', `two handlers are registered under the name "${handlerName}"`);
  }
}

/** A handler's name is empty or could never appear in a template. */
export class InvalidHandlerNameError extends TaskerError {
  constructor(
    readonly handlerName: string,
    reason: string,
  ) {
    super('HANDLER_NAME_INVALID', `invalid handler name ${JSON.stringify(handlerName)}: ${reason}`);
  }
}

/** Something passed to the handler registry is neither a handler definition nor a StepHandler class. */
export class InvalidHandlerError extends TaskerError {
  constructor(message: string) {
    super('HANDLER_INVALID', message);
  }
}
