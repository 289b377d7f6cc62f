/**
 * `WorkerCore` over the C ABI, the same for every runtime: the loader (koffi.ts, bun.ts, deno.ts)
 * makes the calls, envelope.ts opens the answers and ../wire.ts converts them to the TypeScript
 * types. The semantics (claim loops, heartbeat, report batching, draining) are the Rust core's.
 *
 * With the library's completion queue (completions.ts), buffered steps are taken with a direct
 * call, callers with nothing buffered share one ticketed wait (../step-wait.ts), and the reports
 * of one event-loop turn are submitted together (../turn-batch.ts); one poll loop per core brings
 * the results back. A library without it gets a blocking call per report and per wait.
 *
 * `tasker_core_drain` frees the handle, so once a drain has started a call may find the handle
 * gone (`UNKNOWN_HANDLE`) before JavaScript has seen the drain's answer. Such calls answer as a
 * closed core does: next() `[]`, takeAborted() `[]`, report() WorkerCoreClosedError, and stats()
 * the last counters.
 */
import type { ClaimedStep, ReportResult, StepReport } from '../../protocol/types.ts';
import { InvalidWorkerCoreArgumentError, WorkerCoreClosedError } from '../errors.ts';
import { resolveCoreConfig } from '../pg/config.ts';
import type { CoreStats, DrainResult, WorkerCore, WorkerCoreConfig } from '../types.ts';
import {
  checkAbandonArguments,
  claimedStepsFromWire,
  configToWire,
  coreStatsFromWire,
  drainResultFromWire,
  handleFromWire,
  NativeCoreError,
  reportResultFromWire,
  reportToWire,
  stepIdsFromWire,
  drainTimeoutMs,
  toU32,
} from '../wire.ts';
import { StepWait } from '../step-wait.ts';
import { TurnBatch } from '../turn-batch.ts';
import { CompletionQueue, isClosedAnswer } from './completions.ts';
import { openEnvelope } from './envelope.ts';
import type { CompletionCalls, TaskerLibrary } from './library.ts';

/**
 * Creates a core in the library and wraps its handle. The config is checked first with the `pg`
 * binding's rules, so a bad setting raises the same InvalidWorkerCoreConfigError (naming the
 * field) whichever binding runs; the core receives it as given and applies its own defaults.
 */
export async function createFfiWorkerCore(library: TaskerLibrary, config: WorkerCoreConfig): Promise<WorkerCore> {
  resolveCoreConfig(config);
  const handle = handleFromWire(openEnvelope(await library.create(configToWire(config)), 'tasker_core_create'), 'tasker_core_create');
  return new FfiWorkerCore(library, handle);
}

/** Marks a call that found the handle freed by a drain. */
const CLOSED = Symbol('closed');

/** A report waiting for the end of the turn, and its caller. */
interface QueuedReport {
  json: string;
  resolve(result: ReportResult): void;
  reject(error: unknown): void;
}

/** The completion-queue machinery of one core. */
interface Queued {
  queue: CompletionQueue;
  reports: TurnBatch<QueuedReport>;
  steps: StepWait;
}

class FfiWorkerCore implements WorkerCore {
  readonly binding = 'ffi' as const;
  readonly #library: TaskerLibrary;
  readonly #handle: number;
  /** Set when drain() starts: next() answers [] from then on without crossing. */
  #drain: Promise<DrainResult> | undefined;
  /** The last counters read, completed by drain(); stats() answers them once the handle is gone. */
  #lastStats: CoreStats | undefined;
  #closed = false;
  readonly #queued: Queued | undefined;

  constructor(library: TaskerLibrary, handle: number) {
    this.#library = library;
    this.#handle = handle;
    const calls = library.completion;
    if (calls !== undefined) {
      const queue = new CompletionQueue(calls, handle);
      this.#queued = {
        queue,
        reports: new TurnBatch((items) => this.#submitReports(calls, queue, items)),
        steps: new StepWait((timeoutMs) => this.#waitForSteps(calls, queue, timeoutMs)),
      };
    }
  }

  /** Opens an envelope; `CLOSED` when a drain has freed the handle meanwhile. */
  #open(text: string, operation: string): unknown {
    try {
      return openEnvelope(text, operation);
    } catch (error) {
      if (this.#drain !== undefined && error instanceof NativeCoreError && error.code === 'UNKNOWN_HANDLE') return CLOSED;
      throw error;
    }
  }

  async next(max: number, timeoutMs: number): Promise<ClaimedStep[]> {
    if (!Number.isInteger(max) || max < 1) {
      throw new InvalidWorkerCoreArgumentError(`next(max): max must be a positive integer, got ${max}`);
    }
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new InvalidWorkerCoreArgumentError(`next(timeoutMs): must be 0 or more, got ${timeoutMs}`);
    }
    if (this.#drain !== undefined) return [];
    const count = toU32(max);
    if (this.#queued !== undefined) {
      const take = (): ClaimedStep[] => this.#steps(this.#library.nextNow(this.#handle, count));
      return this.#queued.steps.next(take, timeoutMs, () => this.#drain !== undefined);
    }
    // What is buffered is taken on this thread (one crossing, no thread hop); only an empty
    // buffer makes the blocking wait, which runs off the JS thread.
    const now = this.#steps(this.#library.nextNow(this.#handle, count));
    const timeout = toU32(timeoutMs);
    if (now.length > 0 || timeout === 0) return now;
    return this.#steps(await this.#library.next(this.#handle, count, timeout));
  }

  #steps(text: string): ClaimedStep[] {
    const value = this.#open(text, 'tasker_core_next');
    return value === CLOSED ? [] : claimedStepsFromWire(value, 'tasker_core_next');
  }

  async report(report: StepReport): Promise<ReportResult> {
    if (this.#closed) throw new WorkerCoreClosedError();
    const queued = this.#queued;
    if (queued !== undefined) {
      // Serialised now, so a report that cannot be fails alone; `undefined` becomes null, which
      // the core refuses like any invalid report.
      const json = reportToWire(report) ?? 'null';
      return new Promise((resolve, reject) => queued.reports.add({ json, resolve, reject }, json.length));
    }
    const value = this.#open(await this.#library.report(this.#handle, reportToWire(report)), 'tasker_core_report');
    if (value === CLOSED) throw new WorkerCoreClosedError();
    return reportResultFromWire(value, 'tasker_core_report');
  }

  /** Submits the reports of one turn with one call; each settles from the completion queue. */
  #submitReports(calls: CompletionCalls, queue: CompletionQueue, items: QueuedReport[]): void {
    const operation = 'tasker_core_report';
    const tickets = items.map((item) => {
      const { ticket, settled } = queue.expect(operation);
      settled.then(
        (value) => {
          try {
            item.resolve(reportResultFromWire(value, operation));
          } catch (error) {
            item.reject(error);
          }
        },
        (error: unknown) => item.reject(error),
      );
      return ticket;
    });
    const json = `[${items.map((item, index) => `{"ticket":${tickets[index]},"report":${item.json}}`).join(',')}]`;
    try {
      openEnvelope(calls.submitReports(this.#handle, json), 'tasker_core_report_submit');
    } catch (error) {
      // Nothing was queued: every report of the call fails with it.
      const failure = isClosedAnswer(error) ? new WorkerCoreClosedError() : error;
      for (const ticket of tickets) queue.fail(ticket, failure);
      return;
    }
    queue.poll();
  }

  /** One ticketed wait for buffered steps (shared by every waiting next(), see StepWait). */
  async #waitForSteps(calls: CompletionCalls, queue: CompletionQueue, timeoutMs: number): Promise<void> {
    const { ticket, settled } = queue.expect('tasker_core_wait');
    try {
      openEnvelope(calls.submitWait(this.#handle, ticket, toU32(timeoutMs)), 'tasker_core_wait_submit');
    } catch (error) {
      queue.fail(ticket, error);
      if (isClosedAnswer(error)) return; // drained meanwhile: next() answers []
      throw error;
    }
    queue.poll();
    try {
      await settled;
    } catch (error) {
      if (!isClosedAnswer(error)) throw error;
    }
  }

  takeAborted(): string[] {
    if (this.#closed) return [];
    const value = this.#open(this.#library.takeAborted(this.#handle), 'tasker_core_take_aborted');
    return value === CLOSED ? [] : stepIdsFromWire(value, 'tasker_core_take_aborted');
  }

  takeLapsed(): string[] {
    if (this.#closed) return [];
    const value = this.#open(this.#library.takeLapsed(this.#handle), 'tasker_core_take_lapsed');
    return value === CLOSED ? [] : stepIdsFromWire(value, 'tasker_core_take_lapsed');
  }

  abandon(stepId: string, attempt: number): boolean {
    checkAbandonArguments(stepId, attempt);
    if (this.#closed) return false;
    const value = this.#open(this.#library.abandon(this.#handle, stepId, attempt), 'tasker_core_abandon');
    return value === true;
  }

  stats(): CoreStats {
    const last = this.#lastStats;
    if (this.#closed && last !== undefined) return { ...last };
    const value = this.#open(this.#library.stats(this.#handle), 'tasker_core_stats');
    if (value === CLOSED && last !== undefined) return { ...last, buffered: 0 };
    if (value === CLOSED) throw new WorkerCoreClosedError('The worker core was drained before its counters were read');
    const stats = coreStatsFromWire(value, 'ffi', 'tasker_core_stats');
    this.#lastStats = stats;
    return { ...stats };
  }

  drain(timeoutMs: number): Promise<DrainResult> {
    this.#drain ??= this.#drainOnce(drainTimeoutMs(timeoutMs));
    return this.#drain;
  }

  async #drainOnce(timeoutMs: number): Promise<DrainResult> {
    // Read before the handle goes: the counters stats() answers afterwards, completed with what
    // draining did — or the core's final counters when its answer carries them (`value.stats`).
    const before = this.stats();
    let value: unknown;
    try {
      value = openEnvelope(await this.#library.drain(this.#handle, timeoutMs), 'tasker_core_drain');
    } finally {
      // Results nobody collected travel with the drain's answer; what never completed (a wait
      // cut short by the drain, a report the closing core refused) settles as a closed core's.
      const left = typeof value === 'object' && value !== null ? (value as { completions?: unknown }).completions : undefined;
      await this.#queued?.queue.end(left, (operation) =>
        operation === 'tasker_core_wait' ? { value: false } : { error: new WorkerCoreClosedError() },
      );
    }
    const result = drainResultFromWire(value, 'tasker_core_drain');
    const final = (value as { stats?: unknown }).stats;
    this.#lastStats =
      final === undefined || final === null
        ? { ...before, released: before.released + result.released, buffered: 0, inFlight: result.abandoned }
        : coreStatsFromWire(final, 'ffi', 'tasker_core_drain.stats');
    this.#closed = true;
    return result;
  }
}
