/**
 * A wait that honours its caller's deadline and AbortSignal even while the database does not
 * answer: waitForTask's LISTEN connection and task reads can hang on a dead network far longer
 * than the caller asked to wait.
 */
import { timerDelay } from '../timer.ts';

/**
 * `work`'s outcome, unless `deadline` (a Date.now() instant) passes or `signal` aborts first:
 * then rejects with `onTimeout()` or the signal's reason. The work itself is not stopped; its
 * late outcome is dropped.
 */
export function settleWithin<T>(
  work: Promise<T>,
  deadline: number | undefined,
  signal: AbortSignal | undefined,
  onTimeout: () => Error,
): Promise<T> {
  if (deadline === undefined && signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
    };
    const aborted = (): void => {
      finish();
      reject(signal?.reason);
    };
    // setTimeout caps its delay (timerDelay): a far deadline is reached by re-arming.
    const arm = (until: number): void => {
      timer = setTimeout(() => {
        if (Date.now() < until) return arm(until);
        finish();
        reject(onTimeout());
      }, timerDelay(until - Date.now()));
    };
    if (signal?.aborted === true) return aborted();
    signal?.addEventListener('abort', aborted, { once: true });
    if (deadline !== undefined) arm(deadline);
    work.then(
      (value) => {
        finish();
        resolve(value);
      },
      (error: unknown) => {
        finish();
        reject(error);
      },
    );
  });
}
