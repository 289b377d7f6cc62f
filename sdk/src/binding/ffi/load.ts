/**
 * Picks the running runtime's FFI and loads the C ABI library with it. Each loader is imported
 * dynamically, so loading this module never pulls another runtime's FFI (bun:ffi, koffi).
 */
import { detectRuntime, type JsRuntime } from '../../runtime.ts';
import type { TaskerLibrary } from './library.ts';

export { detectRuntime, type JsRuntime };

/** Loads the C ABI library at `path` with the FFI of `runtime` (default: the running one). */
export async function loadTaskerLibrary(path: string, runtime: JsRuntime = detectRuntime()): Promise<TaskerLibrary> {
  switch (runtime) {
    case 'deno':
      return (await import('./deno.ts')).loadWithDeno(path);
    case 'bun':
      return (await import('./bun.ts')).loadWithBun(path);
    case 'node':
      return (await import('./koffi.ts')).loadWithKoffi(path);
  }
}
