/**
 * Which JavaScript runtime this process runs on (the worker, the servers, the CLI and the C ABI
 * loader all need to know; none of them should have to import a binding to find out), and how to
 * start a script on each of them.
 */
import { join } from 'node:path';
import process from 'node:process';

/** The JavaScript runtime this process runs on. */
export type JsRuntime = 'node' | 'bun' | 'deno';

/** Deno when `globalThis.Deno` exists, Bun when `globalThis.Bun` or `process.versions.bun` does, else Node. */
export function detectRuntime(): JsRuntime {
  const global = globalThis as { Deno?: unknown; Bun?: unknown };
  if (global.Deno !== undefined) return 'deno';
  if (global.Bun !== undefined || (typeof process !== 'undefined' && process.versions.bun !== undefined)) return 'bun';
  return 'node';
}

/** A program and its arguments, ready for `child_process.spawn`. */
export interface RuntimeCommand {
  command: string;
  args: string[];
}

/**
 * The command that runs `script` (then `args`) on `runtime`: Node with this process's own
 * executable (call it from Node), Bun and Deno with the binaries the npm packages `bun` and
 * `deno` put in `binDir` (a project's `node_modules/.bin`), Deno with every permission (`-A`), as
 * the demo, the conformance runner, the tests and the benchmarks start workers on each runtime.
 *
 * @example
 * const { command, args } = runtimeCommand('deno', 'src/entry/deno.ts', [], 'node_modules/.bin');
 * spawn(command, args, { stdio: 'inherit' });
 */
export function runtimeCommand(runtime: JsRuntime, script: string, args: readonly string[], binDir: string): RuntimeCommand {
  switch (runtime) {
    case 'node':
      return { command: process.execPath, args: [script, ...args] };
    case 'bun':
      return { command: join(binDir, 'bun'), args: [script, ...args] };
    case 'deno':
      return { command: join(binDir, 'deno'), args: ['run', '-A', script, ...args] };
  }
}
