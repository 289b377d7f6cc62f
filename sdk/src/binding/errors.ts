/**
 * Typed errors of the worker-core bindings (selection, configuration, use after close). Shared by
 * every binding so callers branch on the class, whichever binding runs.
 */
import { TaskerError } from '../errors.ts';

/** A binding could not be loaded (module missing, native build missing, wrong exports). */
export class BindingUnavailableError extends TaskerError {
  constructor(
    readonly binding: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('BINDING_UNAVAILABLE', message, options);
  }
}

/** A WorkerCoreConfig field has a value the core cannot use. */
export class InvalidWorkerCoreConfigError extends TaskerError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('WORKER_CORE_CONFIG_INVALID', `Invalid worker core config: ${field} ${message}`);
  }
}

/** A WorkerCore method was called with an argument it cannot use (e.g. next(0, …)). */
export class InvalidWorkerCoreArgumentError extends TaskerError {
  constructor(message: string) {
    super('WORKER_CORE_ARGUMENT_INVALID', message);
  }
}

/** The core was drained (closed); a report that had not been committed by then is refused. */
export class WorkerCoreClosedError extends TaskerError {
  constructor(message = 'The worker core is closed (drained); the report was not committed') {
    super('WORKER_CORE_CLOSED', message);
  }
}

/**
 * The database answers but lacks the tasker schema (or has one older than report_and_claim): run
 * `tasker-ctl migrate`. Every binding raises it when a core is created.
 */
export class WorkerCoreSchemaMissingError extends TaskerError {
  constructor(message = 'the database has no tasker schema (or an old one without report_and_claim): run `tasker-ctl migrate`') {
    super('SCHEMA_MISSING', message);
  }
}
