/**
 * The `ffi` binding: the Rust core through its C ABI (docs/bindings.md), loaded by the running
 * runtime's own FFI — koffi on Node, `bun:ffi` on Bun, `Deno.dlopen` on Deno (load.ts: only the
 * running runtime's loader is imported). The library is loaded once, when this module is imported.
 */
import { InvalidWorkerCoreArgumentError } from '../errors.ts';
import type { BindingModule, WorkerCore, WorkerCoreConfig } from '../types.ts';
import { WireFormatError } from '../wire.ts';
import { createFfiWorkerCore } from './core.ts';
import { openEnvelope } from './envelope.ts';
import { resolveNativeLibraryPath } from './library-path.ts';
import type { TaskerLibrary } from './library.ts';
import { loadTaskerLibrary } from './load.ts';

export { NativeCoreError, NativeEnvelopeError } from './envelope.ts';
export { NativeLibraryLoadError, NativeLibraryMissingError, NATIVE_LIBRARY_ENV, resolveNativeLibraryPath } from './library-path.ts';
export type { TaskerLibrary } from './library.ts';
export { detectRuntime, loadTaskerLibrary, type JsRuntime } from './load.ts';

/**
 * The library of this process, loaded when this module is first imported: a missing or unloadable
 * library makes the import itself fail (NativeLibraryMissingError, NativeLibraryLoadError), which
 * is how the selector (../select.ts) learns that the binding is unavailable.
 */
const library: TaskerLibrary = await loadTaskerLibrary(resolveNativeLibraryPath());

/** The loaded library (for benchmarks and diagnostics). */
export function taskerLibrary(): TaskerLibrary {
  return library;
}

/** The `ffi` binding. */
export const ffiBinding: BindingModule = {
  name: 'ffi',
  async createWorkerCore(config: WorkerCoreConfig): Promise<WorkerCore> {
    return createFfiWorkerCore(library, config);
  },
  async echo(payload: string): Promise<string> {
    // A C string ends at its first NUL: the payload would come back cut short, silently. (Reports
    // and configs cross as JSON, which escapes NUL, so only this raw payload can hold one.)
    if (payload.includes('\u0000')) {
      throw new InvalidWorkerCoreArgumentError('echo: the C ABI passes C strings, which cannot hold a NUL character (U+0000)');
    }
    const value = openEnvelope(library.echo(payload), 'tasker_echo');
    if (typeof value !== 'string') throw new WireFormatError(`tasker_echo: expected a string, got ${typeof value}`);
    return value;
  },
};
