/**
 * Gates: named latches inside one worker process that the runner opens over stdin. A gate
 * handler waits on the gate of its own step (`<taskId>/<stepName>`), so the runner decides when
 * a step may finish — after a worker was killed, a task cancelled, or another worker completed
 * the step — instead of guessing with sleeps. A gate opened before anyone waits stays open.
 */
export class GateBook {
  readonly #opened = new Set<string>();
  readonly #waiting = new Map<string, Array<() => void>>();

  /** Opens `key`: present and future waiters go through. */
  open(key: string): void {
    this.#opened.add(key);
    for (const release of this.#waiting.get(key) ?? []) release();
    this.#waiting.delete(key);
  }

  /** Resolves once `key` is open; rejects with the signal's reason if it aborts first. */
  wait(key: string, signal: AbortSignal): Promise<void> {
    if (this.#opened.has(key)) return Promise.resolve();
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const waiters = this.#waiting.get(key) ?? [];
      waiters.push(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      this.#waiting.set(key, waiters);
    });
  }
}

/** The gate of one step of one task. */
export function gateKey(taskId: string, stepName: string): string {
  return `${taskId}/${stepName}`;
}
