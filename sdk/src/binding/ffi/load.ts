/**
 * Picks the running runtime's FFI and loads the C ABI library with it. Each loader is imported
 * dynamically, so loading this module never pulls another runtime's FFI (bun:ffi, koffi).
 */
import type { TaskerLibrary } from './library.ts';

/** The JavaScript runtime this process runs on. */
export type JsRuntime = 'node' | 'bun' | 'deno';

/** Deno when `globalThis.Deno` exists, Bun when `globalThis.Bun` or `process.versions.bun` does, else Node. */
export function detectRuntime(): JsRuntime {
  const global = globalThis as { Deno?: unknown; Bun?: unknown };
  if (global.Deno !== undefined) return 'deno';
  if (global.Bun !== undefined || (typeof process !== 'undefined' && process.versions.bun !== undefined)) return 'bun';
  return 'node';
}

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
