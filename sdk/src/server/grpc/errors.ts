/**
 * Errors of the task API as gRPC status codes. Typed Tasker errors map to what a caller can act
 * on (INVALID_ARGUMENT, NOT_FOUND, ABORTED: try again); a database that cannot be reached is UNAVAILABLE, so clients
 * retry; anything else is INTERNAL. Every message is redacted: a driver's error can quote a URL.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { isTransientConnectionError } from '../../db/connect-with-retry.ts';
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
