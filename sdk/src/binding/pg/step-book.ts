/**
 * The core's record of every lease it holds: steps claimed and buffered for next(), steps handed
 * out and running, steps whose report is on its way. One entry per step id, so a claim that
 * returns a step this core already holds (its lease expired and came back to us) is adopted by
 * the existing entry instead of being handed out a second time.
 */
import type { ClaimedStep } from '../../protocol/types.ts';
import { ClaimSize } from './claim-size.ts';

/** Where a held step is. */
export type Phase = 'buffered' | 'running' | 'reporting';

/** One lease this core holds. `delivery` changes when the lease is adopted. */
export interface HeldStep {
  readonly stepId: string;
  readonly namespace: string;
  readonly attempt: number;
  delivery: number;
  leaseExpiresAt: Date;
  /**
   * performance.now() by which the lease has certainly expired on the server: when the round trip
   * that granted or last extended it was sent, plus the lease. The server's expiry is later (it
   * counts from its own start of the statement), so this needs no clock shared with it.
   */
  localDeadline: number;
  phase: Phase;
  /** The claimed step, while buffered (the freshest claim of it). */
  step: ClaimedStep;
  /** When it entered the buffer (performance.now()), for the claim size's wait. */
  bufferedAt: number;
  /** Set once the handler was told to stop, so takeAborted() names it once. */
  abortSignalled: boolean;
}

interface NextWaiter {
  max: number;
  resolve: (steps: ClaimedStep[]) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Callbacks of the step book. */
export interface StepBookEvents {
  /** Buffer space was freed: claim loops may claim again. */
  onSpace(): void;
  /** Something left flight (reported or dropped): drain may be waiting for that. */
  onSettled(): void;
}

export class StepBook {
  private readonly held = new Map<string, HeldStep>();
  private buffer: HeldStep[] = [];
  private readonly aborted = new Set<string>();
  /** Running steps whose lease lapsed by this core's clock (see takeLapsed). */
  private readonly lapsed = new Set<string>();
  private waiters: NextWaiter[] = [];
  /** Buffer slots promised to claim round trips under way. */
  private reserved = 0;
  private closedForNext = false;
  private inFlight = 0;
  private readonly size: ClaimSize;

  /** `prefetch` bounds the buffer; claims start at `batchSize` steps and grow up to `maxBatchSize`. */
  constructor(
    private readonly prefetch: number,
    batchSize: number,
    maxBatchSize: number,
    /** The lease every claim and heartbeat asks for, in ms. */
    private readonly leaseMs: number,
    private readonly events: StepBookEvents,
  ) {
    this.size = new ClaimSize(batchSize, maxBatchSize);
  }

  /** Steps the next claim asks for: the claim size, at most `prefetch`. */
  get batch(): number {
    return Math.min(this.size.current, this.prefetch);
  }

  get bufferedCount(): number {
    return this.buffer.length;
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  /**
   * Buffer slots neither filled nor promised to a claim under way. The buffer holds two claims'
   * worth (one being handed out while the next is claimed), at most `prefetch`.
   */
  private get room(): number {
    return Math.max(0, Math.min(2 * this.size.current, this.prefetch) - this.buffer.length - this.reserved);
  }

  /** Reserves up to `want` buffer slots for a claim; returns how many (0 when the buffer is full). */
  reserve(want: number): number {
    const granted = Math.min(want, this.room);
    this.reserved += granted;
    return granted;
  }

  /**
   * Reserves room for a whole claim (`batch` steps), or nothing while less is free: a claim costs
   * the database about the same whatever its size, and the buffered steps keep the handlers busy
   * meanwhile. The native core's rule (native/src/book.rs, `reserve_full`).
   */
  reserveFull(): number {
    const full = this.batch;
    return full === 0 || this.room < full ? 0 : this.reserve(full);
  }

  /**
   * Gives reserved slots back once their claim returned, `filled` of them with claimed steps.
   * Slots the claim did not fill may be what another namespace's loop is waiting for (it found
   * the buffer fully reserved), so they ring the loops like space freed by next() does.
   */
  unreserve(count: number, filled: number): void {
    this.reserved -= count;
    if (filled < count) this.events.onSpace();
  }

  /** A claim loop's claim came back with every step it asked for (`full`) or fewer. */
  claimReturned(full: boolean): void {
    this.size.claimReturned(full);
  }

  /**
   * Records claimed steps: new ones go to the buffer (and to waiting next() calls); one this core
   * already holds under the same attempt is adopted (new delivery, not handed out again).
   * `sentAt` is when the claim's round trip was sent (performance.now()). Returns how many were
   * adopted.
   */
  accept(claimed: readonly ClaimedStep[], sentAt: number): number {
    let adopted = 0;
    const localDeadline = sentAt + this.leaseMs;
    for (const step of claimed) {
      const existing = this.held.get(step.stepId);
      if (existing !== undefined && existing.attempt === step.attempt) {
        existing.delivery = step.delivery;
        existing.leaseExpiresAt = step.leaseExpiresAt;
        existing.localDeadline = localDeadline;
        existing.abortSignalled = false;
        if (existing.phase === 'buffered') existing.step = step;
        adopted += 1;
        continue;
      }
      // A different attempt is a different run; an old buffered entry of it is stale.
      if (existing !== undefined && existing.phase === 'buffered') this.removeBuffered(existing);
      // A running or reporting entry of an older attempt lost its lease to this run: it leaves
      // flight now, and its late report (matched to nothing) settles nothing twice.
      if (existing !== undefined && existing.phase !== 'buffered') {
        this.leaveFlight();
        // A drain waiting for the in-flight count to fall must hear of it.
        this.events.onSettled();
      }
      const entry: HeldStep = {
        stepId: step.stepId,
        namespace: step.namespace,
        attempt: step.attempt,
        delivery: step.delivery,
        leaseExpiresAt: step.leaseExpiresAt,
        localDeadline,
        phase: 'buffered',
        step,
        bufferedAt: performance.now(),
        abortSignalled: false,
      };
      this.held.set(step.stepId, entry);
      this.buffer.push(entry);
    }
    this.serveWaiters();
    return adopted;
  }

  /** Up to `max` buffered steps now, else the first that arrive within `timeoutMs`, else []. */
  next(max: number, timeoutMs: number): Promise<ClaimedStep[]> {
    if (this.closedForNext) return Promise.resolve([]);
    const now = this.take(max);
    if (now.length < max && this.reserved > 0) this.size.starved();
    if (now.length > 0 || timeoutMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const waiter: NextWaiter = {
        max,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve([]);
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Makes every waiting and future next() return []. */
  closeForNext(): void {
    this.closedForNext = true;
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve([]);
    }
    this.waiters = [];
  }

  /** Every lease to keep alive: buffered, running and reporting. */
  leases(): HeldStep[] {
    return [...this.held.values()];
  }

  /** The entry of a step, if this core holds it. */
  get(stepId: string): HeldStep | undefined {
    return this.held.get(stepId);
  }

  /** True while `entry` is still the one this core holds for its step. */
  isCurrent(entry: HeldStep): boolean {
    return this.held.get(entry.stepId) === entry;
  }

  /**
   * The heartbeat learned that a lease is gone or its task stopped: a buffered step is dropped
   * (never handed out), a running one is named by the next takeAborted().
   */
  abort(entry: HeldStep): void {
    if (!this.isCurrent(entry)) return;
    if (entry.phase === 'buffered') {
      this.held.delete(entry.stepId);
      this.removeBuffered(entry);
      this.events.onSpace();
    } else if (entry.phase === 'running' && !entry.abortSignalled) {
      entry.abortSignalled = true;
      this.aborted.add(entry.stepId);
    }
  }

  /** A heartbeat sent at `sentAt` (performance.now()) extended the lease of `entry`. */
  extended(entry: HeldStep, sentAt: number, leaseExpiresAt: Date | null): void {
    if (leaseExpiresAt !== null) entry.leaseExpiresAt = leaseExpiresAt;
    entry.localDeadline = Math.max(entry.localDeadline, sentAt + this.leaseMs);
  }

  /** Step ids the heartbeat named to stop since the last call. */
  takeAborted(): string[] {
    this.expireLeases(performance.now());
    const ids = [...this.aborted];
    this.aborted.clear();
    return ids;
  }

  /**
   * Running steps whose lease expired by this core's clock since the last call (heartbeats failed
   * or never answered, as when the database is unreachable): another worker may be running them
   * by now, so their handlers stop and are not reported.
   */
  takeLapsed(): string[] {
    this.expireLeases(performance.now());
    const ids = [...this.lapsed];
    this.lapsed.clear();
    return ids;
  }

  /** The handler reported: the entry (if this core holds that attempt running) moves to reporting. */
  startReport(stepId: string, attempt: number): HeldStep | undefined {
    const entry = this.held.get(stepId);
    if (entry === undefined || entry.attempt !== attempt || entry.phase === 'buffered') return undefined;
    if (entry.phase === 'running') {
      entry.phase = 'reporting';
      this.aborted.delete(stepId);
      this.lapsed.delete(stepId);
    }
    return entry;
  }

  /** The report of `entry` was settled (committed, or given up): the lease is no longer held. */
  finishReport(entry: HeldStep | undefined): void {
    if (entry === undefined || !this.isCurrent(entry)) {
      this.events.onSettled();
      return;
    }
    this.held.delete(entry.stepId);
    if (entry.phase !== 'buffered') this.leaveFlight();
    this.events.onSettled();
  }

  /** The running handler of `stepId` under `attempt` was abandoned: the step leaves flight unreported. */
  abandon(stepId: string, attempt: number): boolean {
    const entry = this.held.get(stepId);
    if (entry === undefined || entry.attempt !== attempt || entry.phase !== 'running') return false;
    this.held.delete(stepId);
    this.aborted.delete(stepId);
    this.lapsed.delete(stepId);
    this.leaveFlight();
    this.events.onSettled();
    return true;
  }

  /** Takes every buffered step out (draining gives them back to the queue). */
  takeAllBuffered(): HeldStep[] {
    const taken = this.buffer;
    this.buffer = [];
    for (const entry of taken) this.held.delete(entry.stepId);
    return taken;
  }

  /**
   * Leases past their local deadline: a buffered step is dropped (it is never handed out under
   * a lapsed lease; the queue delivers it again), a running one is named by takeLapsed().
   */
  private expireLeases(now: number): void {
    for (const entry of this.held.values()) {
      if (entry.localDeadline > now || entry.phase !== 'running' || entry.abortSignalled) continue;
      entry.abortSignalled = true;
      this.lapsed.add(entry.stepId);
    }
    this.dropLapsedBuffered(now);
  }

  /** Drops buffered steps whose lease lapsed; the room freed rings the claim loops. */
  private dropLapsedBuffered(now: number): void {
    const kept = this.buffer.filter((entry) => entry.localDeadline > now);
    if (kept.length === this.buffer.length) return;
    for (const entry of this.buffer) if (entry.localDeadline <= now) this.held.delete(entry.stepId);
    this.buffer = kept;
    this.events.onSpace();
  }

  private take(max: number): ClaimedStep[] {
    if (this.buffer.length === 0) return [];
    const now = performance.now();
    // Only the buffer matters for handing out; running steps' lapses are found by the polls.
    this.dropLapsedBuffered(now);
    const taken = this.buffer.splice(0, max);
    if (taken.length === 0) return [];
    for (const entry of taken) {
      this.size.waited(now - entry.bufferedAt);
      entry.phase = 'running';
      this.inFlight += 1;
    }
    this.events.onSpace();
    return taken.map((entry) => entry.step);
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0 && this.buffer.length > 0) {
      const waiter = this.waiters.shift()!;
      clearTimeout(waiter.timer);
      waiter.resolve(this.take(waiter.max));
    }
  }

  private removeBuffered(entry: HeldStep): void {
    const index = this.buffer.indexOf(entry);
    if (index >= 0) this.buffer.splice(index, 1);
  }

  private leaveFlight(): void {
    this.inFlight -= 1;
  }
}
