/**
 * Errors of the handler API: the two a handler throws to choose its outcome (RetryableError,
 * PermanentError), the three a worker aborts a step's signal with (StepTimeoutError,
 * StepCancelledError, WorkerShutdownError), and the mistakes the API itself reports.
 */
import { TaskerError } from '../errors.ts';
import type { JsonObject } from '../protocol/types.ts';
import { closest } from '../template/did-you-mean.ts';

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

/** Abort reason: the step's task was cancelled (or its lease is gone). Reported as a retryable failure: a stopped task ends the step all the same, and a task retried meanwhile runs it again. */
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

/**
 * Abort reason: the step's lease lapsed by the worker core's clock (no heartbeat got through for
 * a whole lease, as when the database is unreachable), so another worker may be running it. The
 * worker does not report it: the step runs again elsewhere without losing an attempt.
 */
export class LeaseLapsedError extends TaskerError {
  constructor(message = "the step's lease lapsed: no heartbeat reached the database for a whole lease") {
    super('LEASE_LAPSED', message);
  }
}

/**
 * `ctx.dependencyResult(name)` named a step whose result this step did not receive, or
 * `ctx.batchResults(name)` a step that is not one of its dependencies. The message says which:
 * `name` is not among the template's `dependencies` of the step (a misspelling), or it is but has
 * no result (a decision skipped it, or it is a batch worker step, read with ctx.batchResults).
 */
export class UnknownDependencyError extends TaskerError {
  /** Whether `dependency` is one of the step's template dependencies (then it has no result). */
  readonly isDependency: boolean;

  constructor(
    readonly stepName: string,
    readonly dependency: string,
    /** The names of the dependency results the step received. */
    readonly available: readonly string[],
    /** The step's template dependencies (ClaimedStep.dependencyNames). */
    readonly dependencies: readonly string[] = [],
  ) {
    const isDependency = dependencies.includes(dependency);
    const suggestion = isDependency ? undefined : closest(dependency, [...new Set([...dependencies, ...available])]);
    super(
      'DEPENDENCY_UNKNOWN',
      isDependency
        ? `step "${stepName}" has no result from its dependency "${dependency}": a decision skipped it, or it is a batch ` +
            `worker step (read its instances' results with ctx.batchResults("${dependency}"))`
        : `step "${stepName}" has no dependency named "${dependency}"; ` +
            (dependencies.length === 0 ? 'it has no dependencies' : `its dependencies are: ${dependencies.join(', ')}`) +
            (available.length === 0 ? '' : `; results are available from: ${available.join(', ')}`) +
            (suggestion === undefined ? '' : `; did you mean "${suggestion}"?`),
    );
    this.isDependency = isDependency;
  }
}

/**
 * `fanOut(items)` was given more items than one batch step may fan out into. A PermanentError:
 * running the step again would produce the same list, so it fails at once.
 */
export class BatchTooLargeError extends PermanentError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      `fanOut(items): ${size} items is more than the ${limit} batch instances one batch step may create; ` +
        'make each item a larger chunk of the work',
      { details: { size, limit } },
    );
  }
}

/** `ctx.batchItem()` was called in a step that is not an instance of a batch worker step. */
export class NotABatchInstanceError extends TaskerError {
  constructor(readonly stepName: string) {
    super(
      'BATCH_NOT_AN_INSTANCE',
      `step "${stepName}" is not a batch instance: ctx.batchItem() works in the instances of a batch worker step ` +
        '(the steps named like "process_chunk[0]" that a batch step\'s fanOut(...) created)',
    );
  }
}

/** `ctx.batchResults(name)` was given the name of one of the step's ordinary dependencies. */
export class NotABatchWorkerStepError extends TaskerError {
  constructor(
    readonly stepName: string,
    readonly dependency: string,
  ) {
    super(
      'BATCH_NOT_A_WORKER_STEP',
      `"${dependency}" is an ordinary dependency of step "${stepName}", not a batch worker step: ctx.batchResults() takes ` +
        `the template name of the batch worker step whose instances ran (read "${dependency}" with ctx.dependencyResult())`,
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
