/**
 * The C ABI as `bun:ffi` sees it, shared by bun.ts (the JS thread) and bun-call-worker.ts (the
 * threads that make the blocking calls). `bun:ffi` exists only on Bun and its types are not
 * visible to `tsc` (Node types), so it is imported through a non-literal specifier (no other
 * runtime's type checker or bundler follows it) and the few members used are declared here.
 */
import { takeCString } from './envelope.ts';
import { NativeLibraryLoadError } from './library-path.ts';

/** A native pointer as bun:ffi hands it out: a number, or null for NULL. */
export type BunPointer = number;

/** The FFI types of the symbols declared below. */
type BunFfiType = 'ptr' | 'u64' | 'u32' | 'i32' | 'void';

/** One symbol of `dlopen`'s definition. */
interface BunFfiFunction {
  args: readonly BunFfiType[];
  returns: BunFfiType;
}

/** The symbols of the C ABI, typed by how they are called (`ptr` arguments take a Uint8Array). */
export interface BunTaskerSymbols {
  tasker_core_create(config: Uint8Array): BunPointer | null;
  tasker_core_next(handle: number, max: number, timeoutMs: number): BunPointer | null;
  tasker_core_report(handle: number, report: Uint8Array): BunPointer | null;
  tasker_core_take_aborted(handle: number): BunPointer | null;
  tasker_core_take_lapsed(handle: number): BunPointer | null;
  tasker_core_abandon(handle: number, stepId: Uint8Array, attempt: number): BunPointer | null;
  tasker_core_stats(handle: number): BunPointer | null;
  tasker_core_drain(handle: number, timeoutMs: number): BunPointer | null;
  tasker_echo(payload: Uint8Array): BunPointer | null;
  tasker_string_free(pointer: BunPointer): void;
}

/** The completion queue's symbols (library.ts, CompletionCalls), when the library has them. */
export interface BunCompletionSymbols {
  tasker_core_report_submit(handle: number, reports: Uint8Array): BunPointer | null;
  tasker_core_wait_submit(handle: number, ticket: number, timeoutMs: number): BunPointer | null;
  tasker_core_completions(handle: number, max: number, timeoutMs: number): BunPointer | null;
}

/** The members of the `bun:ffi` module used here. */
interface BunFfiModule {
  dlopen<K extends string>(path: string, symbols: Record<K, BunFfiFunction>): { symbols: Record<K, (...args: unknown[]) => unknown>; close(): void };
  /** `new CString(pointer)` copies the NUL-terminated string at `pointer` (a String object). */
  CString: new (pointer: BunPointer) => { toString(): string };
}

const SYMBOLS: Record<keyof BunTaskerSymbols, BunFfiFunction> = {
  tasker_core_create: { args: ['ptr'], returns: 'ptr' },
  tasker_core_next: { args: ['u64', 'u32', 'u32'], returns: 'ptr' },
  tasker_core_report: { args: ['u64', 'ptr'], returns: 'ptr' },
  tasker_core_take_aborted: { args: ['u64'], returns: 'ptr' },
  tasker_core_take_lapsed: { args: ['u64'], returns: 'ptr' },
  tasker_core_abandon: { args: ['u64', 'ptr', 'i32'], returns: 'ptr' },
  tasker_core_stats: { args: ['u64'], returns: 'ptr' },
  tasker_core_drain: { args: ['u64', 'u32'], returns: 'ptr' },
  tasker_echo: { args: ['ptr'], returns: 'ptr' },
  tasker_string_free: { args: ['ptr'], returns: 'void' },
};

const COMPLETION_SYMBOLS: Record<keyof BunCompletionSymbols, BunFfiFunction> = {
  tasker_core_report_submit: { args: ['u64', 'ptr'], returns: 'ptr' },
  tasker_core_wait_submit: { args: ['u64', 'u64', 'u32'], returns: 'ptr' },
  tasker_core_completions: { args: ['u64', 'u32', 'u32'], returns: 'ptr' },
};

/** The library opened with bun:ffi, and the one way to turn a returned pointer into a string. */
export interface BunTaskerLibrary {
  symbols: BunTaskerSymbols;
  /** Reads the envelope at `pointer` and frees it (envelope.ts's takeCString). */
  take(pointer: BunPointer | null, operation: string): string;
  /** `tasker_string_outstanding()` when the library has it (library.ts, outstandingStrings). */
  outstanding: (() => number | bigint) | undefined;
  /** The completion queue, when the library has all of it. */
  completion: BunCompletionSymbols | undefined;
}

/** Opens the library at `path` with bun:ffi (in the calling thread: each Worker opens its own). */
export async function openWithBunFfi(path: string): Promise<BunTaskerLibrary> {
  const specifier = 'bun:ffi';
  let ffi: BunFfiModule;
  try {
    ffi = (await import(specifier)) as BunFfiModule;
  } catch (error) {
    throw new NativeLibraryLoadError(path, `bun:ffi is only available on Bun: ${message(error)}`, { cause: error });
  }
  let symbols: BunTaskerSymbols;
  try {
    symbols = ffi.dlopen(path, SYMBOLS).symbols as unknown as BunTaskerSymbols;
  } catch (error) {
    throw new NativeLibraryLoadError(path, `bun:ffi could not load ${path}: ${message(error)}`, { cause: error });
  }
  let outstanding: (() => number | bigint) | undefined;
  try {
    const diagnostics = ffi.dlopen(path, { tasker_string_outstanding: { args: [], returns: 'u64' } });
    outstanding = diagnostics.symbols.tasker_string_outstanding as () => number | bigint;
  } catch {
    outstanding = undefined; // a diagnostic; not every build has it
  }
  let completion: BunCompletionSymbols | undefined;
  try {
    completion = ffi.dlopen(path, COMPLETION_SYMBOLS).symbols as unknown as BunCompletionSymbols;
  } catch {
    completion = undefined; // an older build or a stand-in: blocking calls instead
  }
  const read = (pointer: BunPointer): string => new ffi.CString(pointer).toString();
  const free = (pointer: BunPointer): void => symbols.tasker_string_free(pointer);
  return { symbols, take: (pointer, operation) => takeCString(pointer, read, free, operation), outstanding, completion };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
