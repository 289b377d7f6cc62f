/**
 * The step logger: structured log lines that always say which task, step and correlation they
 * belong to, so the lines of one step can be found among those of a busy worker. Records are
 * redacted before they reach any writer (see redact.ts).
 */
import { redactText, toLogFields } from './redact.ts';

/** Severity of a log record, lowest first. */
export type StepLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The levels in order of severity. */
export const STEP_LOG_LEVELS: readonly StepLogLevel[] = ['debug', 'info', 'warn', 'error'];

/** One structured log line. `fields` always holds the step's ids. */
export interface LogRecord {
  level: StepLogLevel;
  message: string;
  /** ISO 8601 time the record was made. */
  time: string;
  fields: Record<string, unknown>;
}

/** Where log records go; the worker passes one. */
export type LogWriter = (record: LogRecord) => void;

/** Structured log lines of one step; every line carries task, step and correlation ids. */
export interface StepLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** The ids every line of a step's log carries. */
export interface StepLogIds {
  taskId: string;
  stepId: string;
  stepName: string;
  correlationId: string;
  handler: string;
}

/**
 * A logger for one step. The ids are added to every record and win over a field of the same
 * name (a line must never claim to belong to another step). Logging never throws: a failing
 * writer is reported on the console once per logger and otherwise ignored, because a handler's
 * outcome must not depend on its logging.
 */
export function createStepLogger(write: LogWriter, ids: StepLogIds): StepLogger {
  const idFields: Record<string, unknown> = {
    taskId: ids.taskId,
    stepId: ids.stepId,
    stepName: ids.stepName,
    correlationId: ids.correlationId,
    handler: ids.handler,
  };
  let writerFailed = false;
  const log = (level: StepLogLevel, message: unknown, fields: Record<string, unknown> | undefined): void => {
    try {
      const extra = fields !== null && typeof fields === 'object' ? toLogFields(fields) : {};
      // The ids first: writers keep a record's first fields when it has too many.
      const all: Record<string, unknown> = { ...idFields };
      for (const [key, value] of Object.entries(extra)) if (!(key in idFields)) all[key] = value;
      write({ level, message: redactText(String(message)), time: new Date().toISOString(), fields: all });
    } catch (error) {
      if (writerFailed) return;
      writerFailed = true;
      console.error(`[tasker] a log writer failed; further failures of this step's logger are not reported: ${describeThrown(error)}`);
    }
  };
  return {
    debug: (message, fields) => log('debug', message, fields),
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
  };
}

/** What a writer threw, as text; String() itself throws for some values (a null-prototype object). */
function describeThrown(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}
