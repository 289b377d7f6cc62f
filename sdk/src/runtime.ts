/**
 * Which JavaScript runtime this process runs on. The worker, the servers, the CLI and the C ABI
 * loader all need to know; none of them should have to import a binding to find out.
 */

/** The JavaScript runtime this process runs on. */
export type JsRuntime = 'node' | 'bun' | 'deno';

/** Deno when `globalThis.Deno` exists, Bun when `globalThis.Bun` or `process.versions.bun` does, else Node. */
export function detectRuntime(): JsRuntime {
  const global = globalThis as { Deno?: unknown; Bun?: unknown };
  if (global.Deno !== undefined) return 'deno';
  if (global.Bun !== undefined || (typeof process !== 'undefined' && process.versions.bun !== undefined)) return 'bun';
  return 'node';
}
