/**
 * The JS side of the C ABI's completion queue (native/include/tasker.h): operations submitted
 * with a ticket (`tasker_core_report_submit`, `tasker_core_wait_submit`) return at once, and one
 * poll loop per core, making one blocking `tasker_core_completions` call at a time off the JS
 * thread, brings back their results and settles each ticket's promise. So however many reports
 * and waits are outstanding, a core takes one thread, and the Rust flusher sees every report as
 * soon as it is submitted (docs/bindings.md, "The C ABI").
 *
 * The poll loop runs only while tickets are outstanding, so an idle core holds no thread. It ends
 * for good when the core answers that it has closed; drain() then hands over what nobody
 * collected ({@link CompletionQueue.end}).
 */
import { WorkerCoreClosedError } from '../errors.ts';
import { NativeCoreError } from '../wire.ts';
import { openEnvelope, openParsedEnvelope } from './envelope.ts';
import type { CompletionCalls } from './library.ts';

/** Most results one poll brings back. */
const POLL_BATCH = 1024;
/**
 * How long one poll may block. Results end it at once; the bound only lets the loop notice that
 * nothing is outstanding any more (and share koffi's thread budget with other cores).
 */
const POLL_TIMEOUT_MS = 1_000;

interface Waiter {
  operation: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** True for the answers of a core that has closed (or whose handle a drain freed). */
export function isClosedAnswer(error: unknown): boolean {
  return error instanceof WorkerCoreClosedError || (error instanceof NativeCoreError && error.code === 'UNKNOWN_HANDLE');
}

export class CompletionQueue {
  readonly #waiting = new Map<number, Waiter>();
  #nextTicket = 1;
  #poller: Promise<void> | undefined;
  /** The core answered that it closed: no more polling. */
  #ended = false;

  constructor(
    private readonly calls: CompletionCalls,
    private readonly handle: number,
  ) {}

  /** A new ticket and the promise its result settles (the envelope's value, or its error). */
  expect(operation: string): { ticket: number; settled: Promise<unknown> } {
    const ticket = this.#nextTicket++;
    const settled = new Promise<unknown>((resolve, reject) => this.#waiting.set(ticket, { operation, resolve, reject }));
    return { ticket, settled };
  }

  /** Settles a ticket whose submit failed (nothing will come back for it). */
  fail(ticket: number, error: unknown): void {
    const waiter = this.#waiting.get(ticket);
    this.#waiting.delete(ticket);
    waiter?.reject(error);
  }

  /** Makes sure a poll loop runs while tickets are outstanding. */
  poll(): void {
    if (this.#poller !== undefined || this.#ended || this.#waiting.size === 0) return;
    this.#poller = this.#loop().finally(() => {
      this.#poller = undefined;
      // A ticket submitted while the last poll was returning empty-handed.
      this.poll();
    });
  }

  async #loop(): Promise<void> {
    while (this.#waiting.size > 0 && !this.#ended) {
      let items: unknown;
      try {
        items = openEnvelope(await this.calls.completions(this.handle, POLL_BATCH, POLL_TIMEOUT_MS), 'tasker_core_completions');
      } catch (error) {
        if (isClosedAnswer(error)) {
          this.#ended = true; // drain() settles what is left (end())
        } else {
          // The library or its thread failed: nothing outstanding would ever be settled.
          this.#rejectAll(error);
        }
        return;
      }
      this.deliver(items);
    }
  }

  /** Settles the tickets of an array of ticketed envelopes (`[{"ticket":n,"ok":…}]`). */
  deliver(items: unknown): void {
    if (!Array.isArray(items)) return;
    for (const item of items as unknown[]) {
      const ticket = typeof item === 'object' && item !== null ? (item as { ticket?: unknown }).ticket : undefined;
      if (typeof ticket !== 'number') continue;
      const waiter = this.#waiting.get(ticket);
      if (waiter === undefined) continue;
      this.#waiting.delete(ticket);
      let value: unknown;
      try {
        value = openParsedEnvelope(item, waiter.operation);
      } catch (error) {
        waiter.reject(error);
        continue;
      }
      waiter.resolve(value);
    }
  }

  /**
   * The core is gone (drained): waits for a poll under way to deliver what it took, delivers
   * `leftovers` (what the drain's answer carried), and settles every ticket still outstanding
   * with `orphaned(operation)`: its result was never produced.
   */
  async end(leftovers: unknown, orphaned: (operation: string) => { value: unknown } | { error: unknown }): Promise<void> {
    this.#ended = true;
    await this.#poller;
    this.deliver(leftovers);
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const waiter of waiting) {
      const outcome = orphaned(waiter.operation);
      if ('error' in outcome) waiter.reject(outcome.error);
      else waiter.resolve(outcome.value);
    }
  }

  #rejectAll(error: unknown): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const waiter of waiting) waiter.reject(error);
  }
}
