import pg from 'pg';
import { DatabaseConnectionError } from '../errors.ts';
import { redactDatabaseUrl, redactPasswordIn } from './database-url.ts';
import type { Deadline } from './deadline.ts';
import { describeError, errorCode } from './describe-error.ts';
import { logLine, type LogSink } from './log.ts';
import { sleep } from './sleep.ts';

/** Options of {@link connectWithRetry}. */
export interface ConnectRetryOptions {
  /** Further attempts after the first one fails transiently. */
  retries: number;
  /** First back-off delay; doubles per attempt up to 15 s. */
  baseDelayMs: number;
  deadline: Deadline;
  log: LogSink;
  applicationName?: string;
}

const MAX_DELAY_MS = 15_000;
const MAX_CONNECT_TIMEOUT_MS = 10_000;
const QUERY_TIMEOUT_GRACE_MS = 5_000;

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  // DNS names of database services often appear a little after the service starts.
  'ENOTFOUND',
]);
/** cannot_connect_now (starting up / recovering), too_many_connections, admin_shutdown. */
const TRANSIENT_SQLSTATES = new Set(['57P03', '53300', '57P01']);

/**
 * Tells a failure worth retrying (server not up yet, network blip, connection slots full)
 * from one that will not change (bad password, missing database).
 */
export function isTransientConnectionError(error: unknown): boolean {
  const code = errorCode(error);
  if (code !== undefined) {
    return TRANSIENT_NETWORK_CODES.has(code) || TRANSIENT_SQLSTATES.has(code) || code.startsWith('08');
  }
  return /Connection terminated|timeout expired|connection timeout/i.test(describeError(error));
}

/**
 * Connects, retrying transient failures `retries` times with exponential back-off within
 * the deadline. The final error names the redacted URL and the attempt count.
 */
export async function connectWithRetry(url: string, options: ConnectRetryOptions): Promise<pg.Client> {
  const attempts = options.retries + 1;
  const redacted = redactDatabaseUrl(url);
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: Math.max(1, Math.min(MAX_CONNECT_TIMEOUT_MS, options.deadline.remainingMs())),
      application_name: options.applicationName ?? 'tasker',
      // Server-side timeouts cannot fire if the server or network went silent; this can.
      query_timeout: options.deadline.remainingMs() + QUERY_TIMEOUT_GRACE_MS,
    });
    // The server may drop us between queries; the pending query reports it, not a crash.
    client.on('error', () => {});
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      const reason = redactPasswordIn(describeError(error), url);
      if (!isTransientConnectionError(error)) {
        throw new DatabaseConnectionError(`Could not connect to ${redacted}: ${reason}`, { cause: error });
      }
      const delayMs = Math.min(MAX_DELAY_MS, options.baseDelayMs * 2 ** (attempt - 1));
      if (attempt >= attempts || delayMs >= options.deadline.remainingMs()) {
        const tries = `${attempt} attempt${attempt === 1 ? '' : 's'}`;
        throw new DatabaseConnectionError(`Could not connect to ${redacted} after ${tries}: ${reason}`, { cause: error });
      }
      logLine(options.log, 'INFO', `Database ${redacted} not reachable (${reason}); retry ${attempt}/${options.retries} in ${delayMs} ms`);
      await sleep(delayMs);
    }
  }
}
