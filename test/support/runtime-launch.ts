/**
 * How the tests start a script on each runtime: the SDK's runtimeCommand (Node with this
 * process's binary, Bun and Deno with the binaries the `bun` and `deno` npm packages install,
 * Deno with every permission), as one argv.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeCommand, type JsRuntime } from '../../sdk/src/runtime.ts';

export type Runtime = JsRuntime;

const BIN = join(fileURLToPath(new URL('../../', import.meta.url)), 'node_modules', '.bin');

/** The command and arguments that run `script` (plus `args`) on `runtime`. */
export function launch(runtime: Runtime, script: string, ...args: string[]): [string, ...string[]] {
  const { command, args: argv } = runtimeCommand(runtime, script, args, BIN);
  return [command, ...argv];
}
