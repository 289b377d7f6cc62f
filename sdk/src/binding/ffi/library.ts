/**
 * What each runtime's loader (koffi.ts, bun.ts, deno.ts) provides: the C ABI of
 * `native/include/tasker.h`, one method per function, each returning the envelope text already
 * read and freed (envelope.ts). The calls that block their thread (`create`, `next` with a
 * timeout, `report`, `completions`, `drain`) return promises and run off the JS thread; the others
 * are synchronous and cost one crossing.
 */

/**
 * The C ABI's completion queue (native/include/tasker.h): submits that return at once, and one
 * blocking call that brings back the results of many (completions.ts).
 */
export interface CompletionCalls {
  /** `tasker_core_report_submit(handle, [{"ticket","report"}…])`, on the JS thread. */
  submitReports(handle: number, itemsJson: string): string;
  /** `tasker_core_wait_submit(handle, ticket, timeoutMs)`, on the JS thread. */
  submitWait(handle: number, ticket: number, timeoutMs: number): string;
  /** `tasker_core_completions(handle, max, timeoutMs)`, off the JS thread. */
  completions(handle: number, max: number, timeoutMs: number): Promise<string>;
}

/** A loaded copy of the native core's C ABI. */
export interface TaskerLibrary {
  /** Absolute path of the shared library. */
  readonly path: string;
  /** Which FFI loaded it. */
  readonly loader: 'koffi' | 'bun:ffi' | 'Deno.dlopen';
  /** `tasker_core_create`, off the JS thread (it may connect to the database). */
  create(configJson: string): Promise<string>;
  /** `tasker_core_next(handle, max, 0)` on the JS thread: takes what is buffered, never waits. */
  nextNow(handle: number, max: number): string;
  /** `tasker_core_next(handle, max, timeoutMs)`, off the JS thread. */
  next(handle: number, max: number, timeoutMs: number): Promise<string>;
  /** `tasker_core_report`, off the JS thread. */
  report(handle: number, reportJson: string): Promise<string>;
  /** `tasker_core_take_aborted`, on the JS thread. */
  takeAborted(handle: number): string;
  /** `tasker_core_take_lapsed`, on the JS thread. */
  takeLapsed(handle: number): string;
  /** `tasker_core_abandon`, on the JS thread. */
  abandon(handle: number, stepId: string, attempt: number): string;
  /** `tasker_core_stats`, on the JS thread. */
  stats(handle: number): string;
  /** `tasker_core_drain`, off the JS thread. */
  drain(handle: number, timeoutMs: number): Promise<string>;
  /**
   * The completion queue, when the library has it (undefined for a library without those
   * functions, such as an older build or a stand-in: reports and waits then block a thread each).
   */
  readonly completion?: CompletionCalls;
  /** `tasker_echo`, on the JS thread (it does not block): the cost of one crossing. */
  echo(payload: string): string;
  /**
   * `tasker_string_outstanding()`, a diagnostic of the native library (not part of the C ABI of
   * docs/bindings.md): how many returned strings are not freed yet. Undefined when the library
   * does not have it. Tests use it to check that the loader frees every envelope.
   */
  outstandingStrings(): number | undefined;
}

/** The functions of the C ABI, for messages. */
export const TASKER_SYMBOLS = [
  'tasker_core_create',
  'tasker_core_next',
  'tasker_core_report',
  'tasker_core_take_aborted',
  'tasker_core_take_lapsed',
  'tasker_core_abandon',
  'tasker_core_stats',
  'tasker_core_drain',
  'tasker_echo',
  'tasker_string_free',
] as const;

/** The completion queue's functions, used when the library has all three. */
export const COMPLETION_SYMBOLS = ['tasker_core_report_submit', 'tasker_core_wait_submit', 'tasker_core_completions'] as const;

/** Largest value a `uint32_t` parameter takes. */
const encoder = new TextEncoder();

/**
 * UTF-8 bytes of `text` followed by a NUL, for `const char *` arguments. (The JSON the bindings
 * send never holds a raw NUL: JSON escapes it.)
 */
export function cString(text: string): Uint8Array {
  return encoder.encode(`${text}\0`);
}
