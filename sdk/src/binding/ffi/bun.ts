/**
 * The C ABI on Bun, through `bun:ffi`. bun:ffi calls are synchronous, so the functions that block
 * (`create`, `completions`, `drain`; `next` with a timeout and `report` for a library without the
 * completion queue) run on a pool of worker threads
 * (bun-call-worker.ts), one blocking call per thread at a time, the pool growing as calls overlap.
 * The others — the completion queue's submits, and `next` with a zero timeout, which takes what
 * is buffered — are direct calls on the JS thread. Measured in bench/ffi/ (crossing.ts): a direct call costs ~1–2 µs, a round trip
 * through a worker thread ~25 µs; polling `next(…, 0)` from the JS thread instead of a blocking wait
 * on a worker was slower to wake (p50 0.6 ms against 0.2 ms, at a 1 ms poll) and burned CPU while
 * idle (~6× more).
 */
import { Worker } from 'node:worker_threads';
import { TaskerError } from '../../errors.ts';
import type { BunCallRequest, BunCallResponse, BunCallWorkerData } from './bun-call-worker.ts';
import { openWithBunFfi } from './bun-ffi.ts';
import { nullEnvelopeError } from './envelope.ts';
import { cString, type TaskerLibrary } from './library.ts';

/** Threads kept for blocking calls; beyond this, calls wait for a free thread. */
const MAX_THREADS = 64;
/** Threads started with the library, so the first blocking calls do not wait for a thread to start. */
const WARM_THREADS = 2;

/** A worker thread of the pool failed (it could not start, or it died). */
export class BunCallThreadError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FFI_THREAD_FAILED', message, options);
  }
}

/** A request without its id, as the pool's callers give it. */
type Call = BunCallRequest extends infer R ? (R extends BunCallRequest ? Omit<R, 'id'> : never) : never;

interface Pending {
  request: BunCallRequest;
  resolve(text: string): void;
  reject(error: Error): void;
}

/**
 * Worker threads making one blocking call each. An idle thread is unref'd (it does not keep the
 * process alive); a busy one is ref'd like any pending I/O.
 */
class BlockingCallPool {
  readonly #path: string;
  readonly #url: URL;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Pending>();
  readonly #queue: Pending[] = [];
  #threads = 0;
  #ids = 0;

  constructor(path: string) {
    this.#path = path;
    // Beside this file: bun-call-worker.ts from source, bun-call-worker.js once compiled.
    const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    this.#url = new URL(`./bun-call-worker${extension}`, import.meta.url);
    for (let i = 0; i < WARM_THREADS; i++) this.#idle.push(this.#spawn());
  }

  run(call: Call): Promise<string> {
    return new Promise((resolve, reject) => {
      const pending: Pending = { request: { ...call, id: ++this.#ids } as BunCallRequest, resolve, reject };
      const worker = this.#idle.pop() ?? (this.#threads < MAX_THREADS ? this.#spawn() : undefined);
      if (worker === undefined) this.#queue.push(pending);
      else this.#dispatch(worker, pending);
    });
  }

  #spawn(): Worker {
    const worker = new Worker(this.#url, { workerData: { path: this.#path } satisfies BunCallWorkerData });
    this.#threads += 1;
    worker.on('message', (response: BunCallResponse) => this.#answer(worker, response));
    worker.on('error', (error: Error) => this.#lose(worker, error));
    worker.on('exit', (code: number) => this.#lose(worker, new Error(`exited with code ${code}`)));
    // After the listeners: on Bun, adding a 'message' listener refs the worker again, and a
    // worker ref'd while idle kept the process from ever exiting.
    worker.unref();
    return worker;
  }

  #dispatch(worker: Worker, pending: Pending): void {
    this.#busy.set(worker, pending);
    worker.ref();
    worker.postMessage(pending.request);
  }

  #answer(worker: Worker, response: BunCallResponse): void {
    const pending = this.#busy.get(worker);
    if (pending === undefined || pending.request.id !== response.id) return;
    this.#busy.delete(worker);
    if ('failure' in response) pending.reject(new BunCallThreadError(`${pending.request.op} on a worker thread: ${response.failure}`));
    else if (response.text === null) pending.reject(nullEnvelopeError(pending.request.op));
    else pending.resolve(response.text);
    const next = this.#queue.shift();
    if (next !== undefined) {
      this.#dispatch(worker, next);
    } else {
      worker.unref();
      this.#idle.push(worker);
    }
  }

  #lose(worker: Worker, error: Error): void {
    const idle = this.#idle.indexOf(worker);
    const pending = this.#busy.get(worker);
    if (idle < 0 && pending === undefined) return;
    if (idle >= 0) this.#idle.splice(idle, 1);
    this.#busy.delete(worker);
    this.#threads -= 1;
    pending?.reject(new BunCallThreadError(`the worker thread making ${pending.request.op} failed: ${error.message}`, { cause: error }));
    const queued = this.#queue.shift();
    if (queued !== undefined) this.#dispatch(this.#spawn(), queued);
  }
}

/** Loads the library at `path` with bun:ffi. */
export async function loadWithBun(path: string): Promise<TaskerLibrary> {
  const library = await openWithBunFfi(path);
  const { symbols, take, outstanding, completion } = library;
  const pool = new BlockingCallPool(path);
  return {
    path,
    loader: 'bun:ffi',
    create: (json) => pool.run({ op: 'tasker_core_create', json }),
    nextNow: (handle, max) => take(symbols.tasker_core_next(handle, max, 0), 'tasker_core_next'),
    next: (handle, max, timeoutMs) => pool.run({ op: 'tasker_core_next', handle, max, timeoutMs }),
    report: (handle, json) => pool.run({ op: 'tasker_core_report', handle, json }),
    takeAborted: (handle) => take(symbols.tasker_core_take_aborted(handle), 'tasker_core_take_aborted'),
    takeLapsed: (handle) => take(symbols.tasker_core_take_lapsed(handle), 'tasker_core_take_lapsed'),
    abandon: (handle, stepId, attempt) => take(symbols.tasker_core_abandon(handle, cString(stepId), attempt), 'tasker_core_abandon'),
    stats: (handle) => take(symbols.tasker_core_stats(handle), 'tasker_core_stats'),
    drain: (handle, timeoutMs) => pool.run({ op: 'tasker_core_drain', handle, timeoutMs }),
    completion:
      completion === undefined
        ? undefined
        : {
            submitReports: (handle, itemsJson) => take(completion.tasker_core_report_submit(handle, cString(itemsJson)), 'tasker_core_report_submit'),
            submitWait: (handle, ticket, timeoutMs) => take(completion.tasker_core_wait_submit(handle, ticket, timeoutMs), 'tasker_core_wait_submit'),
            completions: (handle, max, timeoutMs) => pool.run({ op: 'tasker_core_completions', handle, max, timeoutMs }),
          },
    echo: (payload) => take(symbols.tasker_echo(cString(payload)), 'tasker_echo'),
    outstandingStrings: () => (outstanding === undefined ? undefined : Number(outstanding())),
  };
}
