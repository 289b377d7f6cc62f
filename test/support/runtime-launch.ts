/**
 * How the tests start a script on each runtime: Node with this process's binary, Bun and Deno
 * with the binaries the `bun` and `deno` npm packages install (Deno with every permission).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Runtime = 'node' | 'bun' | 'deno';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The command and arguments that run `script` (plus `args`) on `runtime`. */
export function launch(runtime: Runtime, script: string, ...args: string[]): [string, ...string[]] {
  switch (runtime) {
    case 'node':
      return [process.execPath, script, ...args];
    case 'bun':
      return [join(ROOT, 'node_modules/.bin/bun'), script, ...args];
    case 'deno':
      return [join(ROOT, 'node_modules/.bin/deno'), 'run', '-A', script, ...args];
  }
}
