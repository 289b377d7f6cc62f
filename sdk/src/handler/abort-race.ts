/**
 * Runs a handler against its abort signal. A handler that ignores its signal must not hold the
 * worker: the race settles the moment the signal aborts, and the handler's eventual outcome is
 * handed to `onLate` (for a log line) instead of being lost silently or left as an unhandled
 * rejection. A synchronous handler that never yields cannot be interrupted by anything in
 * JavaScript; that is the one case the race cannot cover.
 */

/** How a handler run ended. */
export type Settlement =
  | { kind: 'returned'; value: unknown }
  | { kind: 'threw'; error: unknown }
  | { kind: 'aborted'; reason: unknown };

/** Runs `run` until it settles or `signal` aborts, whichever comes first. Never rejects. */
export function raceAbort(
  run: () => unknown,
  signal: AbortSignal,
  onLate?: (settlement: Exclude<Settlement, { kind: 'aborted' }>) => void,
): Promise<Settlement> {
  return new Promise<Settlement>((resolve) => {
    let settled = false;
    const onAbort = (): void => finish({ kind: 'aborted', reason: signal.reason });
    function finish(settlement: Settlement): void {
      if (settled) {
        if (settlement.kind !== 'aborted') onLate?.(settlement);
        return;
      }
      settled = true;
      signal.removeEventListener('abort', onAbort);
      resolve(settlement);
    }
    if (signal.aborted) {
      finish({ kind: 'aborted', reason: signal.reason });
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    let value: unknown;
    try {
      value = run();
    } catch (error) {
      finish({ kind: 'threw', error });
      return;
    }
    // Promise.resolve adopts thenables too; both callbacks are attached, so no rejection goes unhandled.
    Promise.resolve(value).then(
      (result: unknown) => finish({ kind: 'returned', value: result }),
      (error: unknown) => finish({ kind: 'threw', error }),
    );
  });
}
