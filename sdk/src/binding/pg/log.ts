/**
 * Warnings of the pg core (connection lost and regained, failing claims). Plain console output,
 * available on every runtime. A warning repeated by the same source is printed once until that
 * source succeeds again (ok), so a long outage does not flood the log.
 */
import { describeError } from '../../db/describe-error.ts';

/** Where the core's warnings go. */
export interface CoreLog {
  warn(source: string, message: string): void;
  /** The source works again: its next warning is printed even if it repeats the last one. */
  ok(source: string): void;
}

/** A CoreLog printing `[tasker pg <workerId>] message` through console.warn. */
export function consoleCoreLog(workerId: string): CoreLog {
  const last = new Map<string, string>();
  return {
    warn(source, message) {
      if (last.get(source) === message) return;
      last.set(source, message);
      console.warn(`[tasker pg ${workerId}] ${message}`);
    },
    ok(source) {
      last.delete(source);
    },
  };
}

/** A one-line description of an error for a warning. */
export function describe(error: unknown): string {
  return describeError(error);
}
