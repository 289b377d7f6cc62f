/**
 * The matrix: three runtimes × three bindings, and how each runtime starts the conformance
 * worker. Node runs the compiled JavaScript (Node 20 cannot run TypeScript); Bun and Deno run the
 * TypeScript source, as users of those runtimes do. Bun and Deno come from the npm packages
 * `bun` and `deno` (node_modules/.bin); a missing one fails its cells loudly.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeCommand, type JsRuntime, type RuntimeCommand } from '@tasker/sdk';
import type { BindingName } from '@tasker/sdk/binding';

export type RuntimeName = JsRuntime;

export const RUNTIMES: readonly RuntimeName[] = ['node', 'bun', 'deno'];
export const BINDINGS: readonly BindingName[] = ['napi', 'ffi', 'pg'];

/** One cell of the matrix. */
export interface Cell {
  runtime: RuntimeName;
  binding: BindingName;
  /** `runtime/binding`, as printed and as accepted by --cells. */
  id: string;
}

export function cell(runtime: RuntimeName, binding: BindingName): Cell {
  return { runtime, binding, id: `${runtime}/${binding}` };
}

/** Every cell, Node first (its pg cell is the reference on ties). */
export const ALL_CELLS: readonly Cell[] = RUNTIMES.flatMap((runtime) => BINDINGS.map((binding) => cell(runtime, binding)));

/** Parses `node/napi,bun/pg`; throws naming a cell that does not exist. */
export function parseCells(list: string): Cell[] {
  return list.split(',').map((text) => {
    const found = ALL_CELLS.find((candidate) => candidate.id === text.trim());
    if (found === undefined) throw new Error(`unknown cell "${text}"; cells are ${ALL_CELLS.map((c) => c.id).join(', ')}`);
    return found;
  });
}

const CONFORMANCE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PROJECT_ROOT = join(CONFORMANCE_ROOT, '..');
const BIN = join(PROJECT_ROOT, 'node_modules', '.bin');

/** The command that runs the conformance worker on `runtime`; throws when the runtime or the build is missing. */
export function workerCommand(runtime: RuntimeName): RuntimeCommand {
  const built = join(CONFORMANCE_ROOT, 'dist', 'worker', 'main.js');
  const { command, args } = runtimeCommand(runtime, runtime === 'node' ? built : join(CONFORMANCE_ROOT, 'src', 'worker', 'main.ts'), [], BIN);
  if (!existsSync(command)) throw new Error(`the ${runtime} runtime is missing: ${command} does not exist (run npm install)`);
  if (runtime === 'node' && !existsSync(built)) throw new Error(`${built} does not exist: build the suite first (npm run build)`);
  return { command, args };
}
