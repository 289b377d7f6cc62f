/**
 * Typed errors raised by the SQL protocol. The database raises SQLSTATE class `TK` with a JSON
 * DETAIL naming the field (see migrations/0002_templates.sql); `translateProtocolError` turns
 * those into these classes so callers can branch on type, not on message text.
 */
import { TaskerError } from '../errors.ts';

/** Where in the input the database found the problem, as it reported it. */
export interface ProtocolErrorDetail {
  field?: string;
  template?: string;
  problem?: string;
  value?: unknown;
  [key: string]: unknown;
}

/** Base class of errors raised by a `tasker.*` SQL function. */
export class ProtocolError extends TaskerError {
  constructor(
    code: string,
    message: string,
    /** The SQLSTATE the database raised (TK001…). */
    readonly sqlState: string,
    /** The field the database named, when it named one. */
    readonly detail: ProtocolErrorDetail,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }

  /** The offending field, e.g. `steps[2] (charge).dependencies[0]`. */
  get field(): string | undefined {
    return this.detail.field;
  }
}

/** TK001: a template is invalid (bad step, unknown dependency, cycle, duplicate name…). */
export class InvalidTemplateError extends ProtocolError {}
/** TK002: a namespace name is not usable (pattern or length). */
export class InvalidNamespaceError extends ProtocolError {}
/** TK003: no template with that namespace, name and version is registered. */
export class UnknownTemplateError extends ProtocolError {}
/** TK004: a task's input (context) was refused. */
export class InvalidTaskInputError extends ProtocolError {}
/** TK005: no task with that id. */
export class UnknownTaskError extends ProtocolError {}
/** TK006: no namespace with that name (nothing was ever registered in it). */
export class UnknownNamespaceError extends ProtocolError {}
/** TK007 (or a data exception, SQLSTATE class 22): a protocol function was called with an invalid argument. */
export class InvalidProtocolArgumentError extends ProtocolError {}
/** TK008: the template was registered again since the caller read it (createTask's `definitionHash`). */
export class TemplateChangedError extends ProtocolError {}
/** TK100: something attempted a state transition the state machines forbid. */
export class IllegalTransitionError extends ProtocolError {}

type ProtocolErrorClass = new (
  code: string,
  message: string,
  sqlState: string,
  detail: ProtocolErrorDetail,
  options?: { cause?: unknown },
) => ProtocolError;

const BY_SQLSTATE: Record<string, { code: string; type: ProtocolErrorClass }> = {
  TK001: { code: 'TEMPLATE_INVALID', type: InvalidTemplateError },
  TK002: { code: 'NAMESPACE_INVALID', type: InvalidNamespaceError },
  TK003: { code: 'TEMPLATE_UNKNOWN', type: UnknownTemplateError },
  TK004: { code: 'TASK_INPUT_INVALID', type: InvalidTaskInputError },
  TK005: { code: 'TASK_UNKNOWN', type: UnknownTaskError },
  TK006: { code: 'NAMESPACE_UNKNOWN', type: UnknownNamespaceError },
  TK007: { code: 'PROTOCOL_ARGUMENT_INVALID', type: InvalidProtocolArgumentError },
  TK008: { code: 'TEMPLATE_CHANGED', type: TemplateChangedError },
  TK100: { code: 'TRANSITION_ILLEGAL', type: IllegalTransitionError },
};

interface PgErrorShape {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

function parseDetail(detail: unknown): ProtocolErrorDetail {
  if (typeof detail !== 'string' || detail === '') return {};
  try {
    const parsed: unknown = JSON.parse(detail);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as ProtocolErrorDetail)
      : {};
  } catch {
    return { problem: detail };
  }
}

/**
 * Returns the typed protocol error for a database error raised by a `tasker.*` function, or the
 * error unchanged when it is anything else (connection loss, syntax error…).
 */
export function translateProtocolError(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const pgError = error as PgErrorShape;
  if (typeof pgError.code !== 'string') return error;
  // Class 22, data exception: a value PostgreSQL cannot take as given (a NUL character in text
  // or JSON, a malformed uuid, a number out of range). It came from the caller's input.
  const known = BY_SQLSTATE[pgError.code] ?? (pgError.code.startsWith('22') ? BY_SQLSTATE.TK007 : undefined);
  if (known === undefined) return error;
  const message = typeof pgError.message === 'string' ? pgError.message : known.code;
  return new known.type(known.code, message, pgError.code, parseDetail(pgError.detail), { cause: error });
}
