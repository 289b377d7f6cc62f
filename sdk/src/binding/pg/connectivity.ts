/**
 * Whether the core can reach its database. The first component whose call fails with a lost
 * connection marks it lost; from then on one recovery loop probes with exponential backoff
 * (100 ms doubling to 5 s) while claims, heartbeats and reports wait in whenUp(). A successful
 * probe counts one reconnect and calls onRecovered (re-LISTEN, claim at once, resume reports).
 *
 * Each loss belongs to an epoch: a failure of a call started before the last recovery is old
 * news and does not start another recovery.
 */
import type { CoreLog } from './log.ts';
import { describe } from './log.ts';
import { sleepUnless, type Stopper } from './signals.ts';

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;

export interface ConnectivityOptions {
  /** Succeeds when every connection the core needs works again. */
  probe(): Promise<void>;
  onRecovered(): void;
  /** Counts a recovery. */
  onReconnect(): void;
  log: CoreLog;
  /** Stops the recovery loop (the core closed). */
  closed: Stopper;
}

export class Connectivity {
  private up = true;
  private currentEpoch = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly options: ConnectivityOptions) {
    options.closed.onStop(() => this.releaseWaiters());
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Take it before a call; pass it to markLost if the call fails. */
  get epoch(): number {
    return this.currentEpoch;
  }

  /** A call started in `epoch` lost its connection. */
  markLost(error: unknown, epoch: number = this.currentEpoch): void {
    if (!this.up || epoch !== this.currentEpoch || this.options.closed.stopped) return;
    this.up = false;
    this.options.log.warn('connectivity', `database connection lost (${describe(error)}); reconnecting`);
    void this.recover();
  }

  /** Resolves when the database is reachable again (at once if it is), or when the core closes. */
  whenUp(): Promise<void> {
    if (this.up || this.options.closed.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async recover(): Promise<void> {
    let delayMs = FIRST_DELAY_MS;
    const closed = this.options.closed;
    while (!closed.stopped) {
      await sleepUnless(delayMs, closed);
      if (closed.stopped) break;
      try {
        await this.options.probe();
      } catch (error) {
        this.options.log.warn('connectivity', `database still unreachable (${describe(error)})`);
        delayMs = Math.min(delayMs * 2, MAX_DELAY_MS);
        continue;
      }
      if (closed.stopped) break;
      this.up = true;
      this.currentEpoch += 1;
      this.options.onReconnect();
      this.options.log.warn('connectivity', 'database connection regained');
      this.options.log.ok('connectivity');
      this.releaseWaiters();
      this.options.onRecovered();
      return;
    }
    this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
