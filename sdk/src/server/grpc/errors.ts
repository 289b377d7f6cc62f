/**
 * Errors of the task API as gRPC status codes. Typed Tasker errors map to what a caller can act
 * on (INVALID_ARGUMENT, NOT_FOUND, ABORTED: try again); a database that cannot be reached is UNAVAILABLE, so clients
 * retry; anything else is INTERNAL. Every message is redacted: a driver's error can quote a URL.
 */
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { isTransientConnectionError } from '../../db/connect-with-retry.ts';
import { cutText } from '../../cut-text.ts';
import { redactText } from '../../handler/redact.ts';
import {
  InvalidNamespaceError,
  InvalidProtocolArgumentError,
  InvalidTaskInputError,
  InvalidTemplateError,
  TemplateChangedError,
  UnknownNamespaceError,
  UnknownTaskError,
  UnknownTemplateError,
} from '../../protocol/errors.ts';
import { InvalidContextError } from '../../template/errors.ts';

/** crash_shutdown: the server went down under the call (the others are transient connection errors). */
const UNAVAILABLE_CODES = new Set(['57P02']);

/**
 * The longest status message sent, in UTF-16 units. gRPC carries it in a header (`grpc-message`,
 * percent-encoded: up to 9 bytes per unit), and a header block beyond the HTTP/2 peer's limit
 * breaks the stream: a message quoting a 100,000-character input came out as INTERNAL
 * "Stream closed" instead of its status.
 */
const MAX_STATUS_MESSAGE = 1_000;

/** `message` cut to MAX_STATUS_MESSAGE, saying how long it was. */
function statusMessage(message: string): string {
  return message.length <= MAX_STATUS_MESSAGE ? message : `${cutText(message, MAX_STATUS_MESSAGE)} (${message.length} characters in all)`;
}

/**
 * Every service's errors leave with a message of at most MAX_STATUS_MESSAGE units (an
 * interceptor of the whole server, so no handler's message can break its stream).
 */
export const boundStatusMessages: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    const status = ConnectError.from(error);
    if (status.rawMessage.length <= MAX_STATUS_MESSAGE) throw status;
    // No Tasker status carries details to keep.
    throw new ConnectError(statusMessage(status.rawMessage), status.code, status.metadata, undefined, status.cause);
  }
};

/** Whatever a handler threw, as a gRPC status with a redacted message. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const message = redactText(error instanceof Error ? error.message : String(error));
  if (error instanceof UnknownTaskError || error instanceof UnknownTemplateError || error instanceof UnknownNamespaceError) {
    return new ConnectError(message, Code.NotFound, undefined, undefined, error);
  }
  if (
    error instanceof InvalidContextError ||
    error instanceof InvalidTaskInputError ||
    error instanceof InvalidNamespaceError ||
    error instanceof InvalidProtocolArgumentError ||
    error instanceof InvalidTemplateError
  ) {
    return new ConnectError(message, Code.InvalidArgument, undefined, undefined, error);
  }
  // The template was registered again twice while the client checked and created: try again.
  if (error instanceof TemplateChangedError) return new ConnectError(message, Code.Aborted, undefined, undefined, error);
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (UNAVAILABLE_CODES.has(code) || isTransientConnectionError(error) || /timeout exceeded when trying to connect/.test(message)) {
    return new ConnectError(`the database is unavailable: ${message}`, Code.Unavailable, undefined, undefined, error);
  }
  return new ConnectError(message, Code.Internal, undefined, undefined, error);
}

/** INVALID_ARGUMENT naming the field. */
export function invalidArgument(field: string, problem: string): ConnectError {
  return new ConnectError(`${field}: ${problem}`, Code.InvalidArgument);
}
