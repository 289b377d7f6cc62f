/**
 * The two waiting primitives of the core, on plain timers and promises so they behave the same on
 * Node, Bun and Deno: a Wakeup (one loop's doorbell) and a Stopper (a one-way "stop now").
 */

type Timer = ReturnType<typeof setTimeout>;

/**
 * A doorbell for one waiting loop. A ring while nobody waits is remembered (once), so a wake-up
 * that arrives while the loop is busy is not lost.
 */
export class Wakeup {
  private pending = false;
  private waiter: (() => void) | undefined;

  /** Wakes the waiting loop, or the next wait() if none waits now. */
  notify(): void {
    const waiter = this.waiter;
    if (waiter === undefined) {
      this.pending = true;
      return;
    }
    waiter();
  }

  /** Resolves on notify(), or after `timeoutMs` when given. */
  wait(timeoutMs?: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: Timer | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        if (this.waiter === done) this.waiter = undefined;
        resolve();
      };
      this.waiter = done;
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }
}

/**
 * A one-way switch. Listeners are removable, so the many short sleeps of a long-lived core do not
 * pile up callbacks on it.
 */
export class Stopper {
  private stoppedFlag = false;
  private readonly listeners = new Set<() => void>();

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  stop(): void {
    if (this.stoppedFlag) return;
    this.stoppedFlag = true;
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener();
  }

  /** Calls `listener` once on stop (at once if already stopped); returns the unsubscriber. */
  onStop(listener: () => void): () => void {
    if (this.stoppedFlag) {
      listener();
      return () => {};
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}

/** Resolves after `ms`, or at once when the stopper is (or becomes) stopped. */
export function sleepUnless(ms: number, stopper: Stopper): Promise<void> {
  if (stopper.stopped) return Promise.resolve();
  return new Promise((resolve) => {
    let timer: Timer | undefined;
    const unsubscribe = stopper.onStop(() => {
      if (timer !== undefined) clearTimeout(timer);
      resolve();
    });
    timer = setTimeout(() => {
      unsubscribe();
      resolve();
    }, ms);
  });
}

/** Resolves when `promise` settles or the stopper is stopped, whichever comes first; never rejects. */
export function unlessStopped(promise: Promise<unknown>, stopper: Stopper): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe = stopper.onStop(resolve);
    const done = (): void => {
      unsubscribe();
      resolve();
    };
    promise.then(done, done);
  });
}

/** Resolves with `promise`'s settlement or at `deadline` (epoch ms), whichever comes first; never rejects. */
export async function untilDeadline(promise: Promise<unknown>, deadline: number): Promise<void> {
  let timer: Timer | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([promise.then(() => undefined, () => undefined), timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
