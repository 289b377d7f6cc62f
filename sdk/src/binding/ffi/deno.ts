/**
 * The C ABI on Deno, through `Deno.dlopen` (needs `--allow-ffi`). Blocking functions
 * (`tasker_core_completions`, `create`, `drain`, and `next`/`report` for a library without the
 * completion queue) are declared `nonblocking: true`, so Deno runs them on its blocking thread
 * pool and returns a promise; the non-blocking ones (the completion queue's submits, and
 * `tasker_core_next` with a zero timeout, declared a second time under another name) are plain
 * synchronous calls. Deno's types are not visible to `tsc` (Node types),
 * so the few members used are declared here.
 */
import { takeCString } from './envelope.ts';
import { NativeLibraryLoadError } from './library-path.ts';
import { cString, type TaskerLibrary } from './library.ts';

/** A native pointer as Deno hands it out (an opaque object), or null for NULL. */
type DenoPointer = object;

/** The native types of the symbols declared below. */
type DenoNativeType = 'pointer' | 'buffer' | 'u64' | 'u32' | 'i32' | 'void';

/** One symbol of `Deno.dlopen`'s definition. */
interface DenoForeignFunction {
  /** The C name, when the key differs from it. */
  name?: string;
  parameters: readonly DenoNativeType[];
  result: DenoNativeType;
  nonblocking?: boolean;
}

/** Argument values: a `buffer` is a Uint8Array, a `u64` a number or bigint, a `pointer` an object or null. */
type DenoArgument = Uint8Array | number | bigint | DenoPointer | null;

/** The symbols this loader declares, typed by how they are called. */
interface TaskerSymbols {
  tasker_core_create: (config: Uint8Array) => Promise<DenoPointer | null>;
  tasker_core_next_now: (handle: number, max: number, timeoutMs: number) => DenoPointer | null;
  tasker_core_next: (handle: number, max: number, timeoutMs: number) => Promise<DenoPointer | null>;
  tasker_core_report: (handle: number, report: Uint8Array) => Promise<DenoPointer | null>;
  tasker_core_take_aborted: (handle: number) => DenoPointer | null;
  tasker_core_take_lapsed: (handle: number) => DenoPointer | null;
  tasker_core_abandon: (handle: number, stepId: Uint8Array, attempt: number) => DenoPointer | null;
  tasker_core_stats: (handle: number) => DenoPointer | null;
  tasker_core_drain: (handle: number, timeoutMs: number) => Promise<DenoPointer | null>;
  tasker_echo: (payload: Uint8Array) => DenoPointer | null;
  tasker_string_free: (pointer: DenoPointer) => void;
}

/** The completion queue's symbols (library.ts, CompletionCalls), when the library has them. */
interface CompletionSymbols {
  tasker_core_report_submit: (handle: number, reports: Uint8Array) => DenoPointer | null;
  tasker_core_wait_submit: (handle: number, ticket: number, timeoutMs: number) => DenoPointer | null;
  tasker_core_completions: (handle: number, max: number, timeoutMs: number) => Promise<DenoPointer | null>;
}

const COMPLETION_SYMBOLS: Record<keyof CompletionSymbols, DenoForeignFunction> = {
  tasker_core_report_submit: { parameters: ['u64', 'buffer'], result: 'pointer' },
  tasker_core_wait_submit: { parameters: ['u64', 'u64', 'u32'], result: 'pointer' },
  tasker_core_completions: { parameters: ['u64', 'u32', 'u32'], result: 'pointer', nonblocking: true },
};

/** The members of the `Deno` namespace this loader uses. */
interface DenoFfiNamespace {
  dlopen<K extends string>(
    path: string,
    symbols: Record<K, DenoForeignFunction>,
  ): { symbols: Record<K, (...args: DenoArgument[]) => unknown>; close(): void };
  UnsafePointerView: { getCString(pointer: DenoPointer, offset?: number): string };
}

const SYMBOLS: Record<keyof TaskerSymbols, DenoForeignFunction> = {
  tasker_core_create: { parameters: ['buffer'], result: 'pointer', nonblocking: true },
  tasker_core_next_now: { name: 'tasker_core_next', parameters: ['u64', 'u32', 'u32'], result: 'pointer' },
  tasker_core_next: { parameters: ['u64', 'u32', 'u32'], result: 'pointer', nonblocking: true },
  tasker_core_report: { parameters: ['u64', 'buffer'], result: 'pointer', nonblocking: true },
  tasker_core_take_aborted: { parameters: ['u64'], result: 'pointer' },
  tasker_core_take_lapsed: { parameters: ['u64'], result: 'pointer' },
  tasker_core_abandon: { parameters: ['u64', 'buffer', 'i32'], result: 'pointer' },
  tasker_core_stats: { parameters: ['u64'], result: 'pointer' },
  tasker_core_drain: { parameters: ['u64', 'u32'], result: 'pointer', nonblocking: true },
  tasker_echo: { parameters: ['buffer'], result: 'pointer' },
  tasker_string_free: { parameters: ['pointer'], result: 'void' },
};

/** The `Deno` global, when running on Deno. */
export function denoNamespace(): DenoFfiNamespace | undefined {
  return (globalThis as { Deno?: DenoFfiNamespace }).Deno;
}

/** Loads the library at `path` with `Deno.dlopen`. */
export async function loadWithDeno(path: string): Promise<TaskerLibrary> {
  const deno = denoNamespace();
  if (deno === undefined) throw new NativeLibraryLoadError(path, 'Deno.dlopen is only available on Deno');
  let symbols: TaskerSymbols;
  try {
    symbols = deno.dlopen(path, SYMBOLS).symbols as unknown as TaskerSymbols;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    const hint = /permission|allow-ffi/i.test(text) ? ' (run Deno with --allow-ffi)' : '';
    throw new NativeLibraryLoadError(path, `Deno.dlopen could not load ${path}: ${text}${hint}`, { cause: error });
  }
  let outstanding: (() => number | bigint) | undefined;
  try {
    const diagnostics = deno.dlopen(path, { tasker_string_outstanding: { parameters: [], result: 'u64' } });
    outstanding = diagnostics.symbols.tasker_string_outstanding as () => number | bigint;
  } catch {
    outstanding = undefined; // a diagnostic; not every build has it
  }
  let completion: CompletionSymbols | undefined;
  try {
    completion = deno.dlopen(path, COMPLETION_SYMBOLS).symbols as unknown as CompletionSymbols;
  } catch {
    completion = undefined; // an older build or a stand-in: blocking calls instead
  }
  const read = (pointer: DenoPointer): string => deno.UnsafePointerView.getCString(pointer);
  const free = (pointer: DenoPointer): void => symbols.tasker_string_free(pointer);
  const take = (pointer: DenoPointer | null, operation: string): string => takeCString(pointer, read, free, operation);
  // `input` stays referenced until the call has returned: Deno reads the buffer from its thread.
  const later = async (call: Promise<DenoPointer | null>, operation: string, input?: Uint8Array): Promise<string> => {
    const pointer = await call;
    void input;
    return take(pointer, operation);
  };

  return {
    path,
    loader: 'Deno.dlopen',
    create: (configJson) => {
      const input = cString(configJson);
      return later(symbols.tasker_core_create(input), 'tasker_core_create', input);
    },
    nextNow: (handle, max) => take(symbols.tasker_core_next_now(handle, max, 0), 'tasker_core_next'),
    next: (handle, max, timeoutMs) => later(symbols.tasker_core_next(handle, max, timeoutMs), 'tasker_core_next'),
    report: (handle, reportJson) => {
      const input = cString(reportJson);
      return later(symbols.tasker_core_report(handle, input), 'tasker_core_report', input);
    },
    takeAborted: (handle) => take(symbols.tasker_core_take_aborted(handle), 'tasker_core_take_aborted'),
    takeLapsed: (handle) => take(symbols.tasker_core_take_lapsed(handle), 'tasker_core_take_lapsed'),
    abandon: (handle, stepId, attempt) => take(symbols.tasker_core_abandon(handle, cString(stepId), attempt), 'tasker_core_abandon'),
    stats: (handle) => take(symbols.tasker_core_stats(handle), 'tasker_core_stats'),
    drain: (handle, timeoutMs) => later(symbols.tasker_core_drain(handle, timeoutMs), 'tasker_core_drain'),
    completion:
      completion === undefined
        ? undefined
        : {
            submitReports: (handle, itemsJson) => take(completion.tasker_core_report_submit(handle, cString(itemsJson)), 'tasker_core_report_submit'),
            submitWait: (handle, ticket, timeoutMs) => take(completion.tasker_core_wait_submit(handle, ticket, timeoutMs), 'tasker_core_wait_submit'),
            completions: (handle, max, timeoutMs) => later(completion.tasker_core_completions(handle, max, timeoutMs), 'tasker_core_completions'),
          },
    echo: (payload) => take(symbols.tasker_echo(cString(payload)), 'tasker_echo'),
    outstandingStrings: () => (outstanding === undefined ? undefined : Number(outstanding())),
  };
}
