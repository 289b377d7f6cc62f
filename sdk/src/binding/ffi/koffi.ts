/**
 * The C ABI on Node, through koffi. Returned strings are declared `void *` (not `str`) so that the
 * pointer survives for `tasker_string_free` after koffi reads it. Blocking functions run through
 * koffi's `.async`, i.e. on a libuv thread-pool thread (UV_THREADPOOL_SIZE, default 4). That pool
 * also serves the process's file system and DNS work, so at most pool size − 1 blocking calls run
 * at once and the rest wait in JS. Reports and waits for steps therefore go through the
 * completion queue (completions.ts): submitting is a direct call, and one blocking
 * `tasker_core_completions` per core brings back every result, so the cap no longer limits how
 * many reports the core can batch.
 *
 * koffi runs an async call on a stack of its own, 128 KiB by default: too small for the core,
 * whose calls block on a Tokio future (a debug build overflowed it and crashed the process).
 * Before loading, koffi's `async_stack_size` is raised to {@link ASYNC_STACK_BYTES}, the size of
 * a Rust thread's stack; koffi only allows that before its first library is loaded.
 */
import type { LibraryHandle } from 'koffi';
import { takeCString } from './envelope.ts';
import { NativeLibraryLoadError } from './library-path.ts';
import type { CompletionCalls, TaskerLibrary } from './library.ts';

/** koffi's module, as `import('koffi')` gives it. */
type Koffi = typeof import('koffi');

/** An opaque pointer as koffi hands it out (an External), or null. */
type KoffiPointer = object;

/** The subset of a koffi function this loader uses: a sync call and its `.async` twin. */
interface KoffiCall<A extends unknown[]> {
  (...args: A): KoffiPointer | null;
  async(...args: [...A, (error: unknown, result: KoffiPointer | null) => void]): void;
}

/** Runs at most `capacity` tasks at once, the others in arrival order as slots free up. */
class ThreadBudget {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly capacity: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.capacity) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await task();
    } finally {
      const nextTask = this.waiting.shift();
      if (nextTask === undefined) this.running -= 1;
      else nextTask();
    }
  }
}

/** libuv threads the blocking calls may take: all but one of the pool. */
function blockingCallBudget(): number {
  const pool = Number.parseInt(process.env['UV_THREADPOOL_SIZE'] ?? '', 10);
  return Math.max(1, (Number.isFinite(pool) && pool > 0 ? pool : 4) - 1);
}

/** The stack koffi gives each async call: 2 MiB, like a Rust thread's default. */
export const ASYNC_STACK_BYTES = 2 * 1024 * 1024;

/** Raises koffi's async stack to ASYNC_STACK_BYTES, or explains why it cannot. */
function ensureAsyncStack(koffi: Koffi, path: string): void {
  const current = koffi.config().async_stack_size ?? 0;
  if (current >= ASYNC_STACK_BYTES) return;
  try {
    koffi.config({ ...koffi.config(), async_stack_size: ASYNC_STACK_BYTES });
  } catch (error) {
    throw new NativeLibraryLoadError(
      path,
      `koffi runs async calls on ${Math.round(current / 1024)} KiB stacks and that can no longer be changed ` +
        `(${message(error)}); the native core needs ${ASYNC_STACK_BYTES / 1024 / 1024} MiB. Load the ffi binding before ` +
        `any other koffi library, or call koffi.config({ async_stack_size: ${ASYNC_STACK_BYTES} }) first.`,
      { cause: error },
    );
  }
}

/** Loads the library at `path` with koffi. */
export async function loadWithKoffi(path: string): Promise<TaskerLibrary> {
  let koffi: Koffi;
  try {
    koffi = await import('koffi');
  } catch (error) {
    throw new NativeLibraryLoadError(path, `The ffi binding on Node needs the koffi package: npm install koffi (${message(error)})`, {
      cause: error,
    });
  }
  ensureAsyncStack(koffi, path);
  let lib: LibraryHandle;
  try {
    lib = koffi.load(path);
  } catch (error) {
    throw new NativeLibraryLoadError(path, `koffi could not load ${path}: ${message(error)}`, { cause: error });
  }
  const declare = <A extends unknown[]>(definition: string): KoffiCall<A> => {
    try {
      return lib.func(definition) as KoffiCall<A>;
    } catch (error) {
      throw new NativeLibraryLoadError(path, `${path} lacks ${definition}: ${message(error)}`, { cause: error });
    }
  };
  const free = declare<[KoffiPointer]>('void tasker_string_free(void *s)') as unknown as (pointer: KoffiPointer) => void;
  const create = declare<[string]>('void *tasker_core_create(const char *config_json)');
  const next = declare<[number, number, number]>('void *tasker_core_next(uint64_t handle, uint32_t max, uint32_t timeout_ms)');
  const report = declare<[number, string]>('void *tasker_core_report(uint64_t handle, const char *report_json)');
  const takeAborted = declare<[number]>('void *tasker_core_take_aborted(uint64_t handle)');
  const takeLapsed = declare<[number]>('void *tasker_core_take_lapsed(uint64_t handle)');
  const abandon = declare<[number, string, number]>('void *tasker_core_abandon(uint64_t handle, const char *step_id, int32_t attempt)');
  const stats = declare<[number]>('void *tasker_core_stats(uint64_t handle)');
  const drain = declare<[number, number]>('void *tasker_core_drain(uint64_t handle, uint32_t timeout_ms)');
  const echo = declare<[string]>('void *tasker_echo(const char *payload)');

  let outstanding: (() => number | bigint) | undefined;
  try {
    outstanding = lib.func('uint64_t tasker_string_outstanding(void)') as () => number | bigint;
  } catch {
    outstanding = undefined; // a diagnostic; not every build has it
  }
  const read = (pointer: KoffiPointer): string => koffi.decode.string(pointer);
  const take = (pointer: KoffiPointer | null, operation: string): string => takeCString(pointer, read, free, operation);
  const budget = new ThreadBudget(blockingCallBudget());
  const later = <A extends unknown[]>(fn: KoffiCall<A>, operation: string, ...args: A): Promise<string> =>
    budget.run(() => new Promise<string>((resolve, reject) => {
      fn.async(...args, (error: unknown, pointer: KoffiPointer | null) => {
        if (error) reject(error instanceof Error ? error : new Error(String(error)));
        else {
          try {
            resolve(take(pointer, operation));
          } catch (thrown) {
            reject(thrown instanceof Error ? thrown : new Error(String(thrown)));
          }
        }
      });
    }));

  // The completion queue: all three functions, or none (an older build, a stand-in).
  let completion: CompletionCalls | undefined;
  try {
    const submitReports = lib.func('void *tasker_core_report_submit(uint64_t handle, const char *reports_json)') as KoffiCall<[number, string]>;
    const submitWait = lib.func('void *tasker_core_wait_submit(uint64_t handle, uint64_t ticket, uint32_t timeout_ms)') as KoffiCall<
      [number, number, number]
    >;
    const completions = lib.func('void *tasker_core_completions(uint64_t handle, uint32_t max, uint32_t timeout_ms)') as KoffiCall<
      [number, number, number]
    >;
    completion = {
      submitReports: (handle, itemsJson) => take(submitReports(handle, itemsJson), 'tasker_core_report_submit'),
      submitWait: (handle, ticket, timeoutMs) => take(submitWait(handle, ticket, timeoutMs), 'tasker_core_wait_submit'),
      completions: (handle, max, timeoutMs) => later(completions, 'tasker_core_completions', handle, max, timeoutMs),
    };
  } catch {
    completion = undefined;
  }

  return {
    path,
    loader: 'koffi',
    create: (configJson) => later(create, 'tasker_core_create', configJson),
    nextNow: (handle, max) => take(next(handle, max, 0), 'tasker_core_next'),
    next: (handle, max, timeoutMs) => later(next, 'tasker_core_next', handle, max, timeoutMs),
    report: (handle, reportJson) => later(report, 'tasker_core_report', handle, reportJson),
    takeAborted: (handle) => take(takeAborted(handle), 'tasker_core_take_aborted'),
    takeLapsed: (handle) => take(takeLapsed(handle), 'tasker_core_take_lapsed'),
    abandon: (handle, stepId, attempt) => take(abandon(handle, stepId, attempt), 'tasker_core_abandon'),
    stats: (handle) => take(stats(handle), 'tasker_core_stats'),
    drain: (handle, timeoutMs) => later(drain, 'tasker_core_drain', handle, timeoutMs),
    completion,
    echo: (payload) => take(echo(payload), 'tasker_echo'),
    outstandingStrings: () => (outstanding === undefined ? undefined : Number(outstanding())),
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
