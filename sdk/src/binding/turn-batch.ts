/**
 * Gathers what is submitted during one turn of the event loop and hands it over in one go when
 * the turn ends (setImmediate), for the native adapters' reports: the Rust flusher runs on its own
 * threads and sends a report the moment it is queued, so reports crossing one by one would each
 * open a round trip while the rest of the turn's reports were still on their way, and every round
 * trip is a commit. Handed over together, the reports of one turn share a round trip, as in the
 * `pg` binding (where they share a microtask). A lone report waits only for the end of the turn.
 */
import { setImmediate } from 'node:timers';

/** Limits of one hand-over; more goes in another one in the same turn. */
export interface TurnBatchLimits {
  /** Most items in one hand-over. */
  items: number;
  /** Most total weight (e.g. bytes of JSON) in one hand-over; a single heavier item goes alone. */
  weight: number;
}

/** What a report batch may carry in one crossing: far below the native core's 64 MiB input limit. */
export const REPORT_BATCH_LIMITS: TurnBatchLimits = { items: 1_000, weight: 8 * 1024 * 1024 };

export class TurnBatch<T> {
  #items: T[] = [];
  #weight = 0;
  #scheduled = false;

  /** `flush` receives each hand-over; it must settle every item itself and not throw. */
  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly limits: TurnBatchLimits = REPORT_BATCH_LIMITS,
  ) {}

  add(item: T, weight: number): void {
    if (this.#items.length > 0 && (this.#items.length >= this.limits.items || this.#weight + weight > this.limits.weight)) {
      this.#handOver();
    }
    this.#items.push(item);
    this.#weight += weight;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#handOver();
    });
  }

  #handOver(): void {
    const items = this.#items;
    this.#items = [];
    this.#weight = 0;
    if (items.length > 0) this.flush(items);
  }
}
