/**
 * Sorting failures of database calls into the three things the core does about them: wait for the
 * connection to come back (connection lost), try again after a pause (transient server-side
 * conflict), or give up on that call (anything deterministic, e.g. a protocol error).
 */
import { isTransientConnectionError } from '../../db/connect-with-retry.ts';
import { describeError, errorCode } from '../../db/describe-error.ts';
import { ProtocolError } from '../../protocol/errors.ts';

const CONNECTION_MESSAGES =
  /Connection terminated|connection error|not queryable|Client was closed|timeout exceeded when trying to connect|Query read timeout|ECONNREFUSED|ECONNRESET|EPIPE|socket hang up|write after end|closed the connection/i;

/** The connection (or the server) went away: the call may or may not have committed. */
export function isConnectionLoss(error: unknown): boolean {
  if (error instanceof ProtocolError) return false;
  if (isTransientConnectionError(error)) return true;
  const code = errorCode(error);
  // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P05 idle session timeout.
  if (code !== undefined && (code.startsWith('08') || code.startsWith('57P'))) return true;
  return CONNECTION_MESSAGES.test(describeError(error));
}

/** A server-side conflict that a retry resolves (serialization, deadlock, lock or resource limits, cancel). */
export function isTransientServerError(error: unknown): boolean {
  const code = errorCode(error);
  if (code === undefined) return false;
  return code.startsWith('40') || code.startsWith('53') || code === '55P03' || code === '57014';
}
