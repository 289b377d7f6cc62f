/**
 * runtimeCommand (docs/worker.md, "Example workers and the demo") starts a script on each runtime:
 * the script, run that way, finds itself on the runtime it was started for.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { runtimeCommand, type JsRuntime } from '../../sdk/src/runtime.ts';

const BIN = join(fileURLToPath(new URL('../../', import.meta.url)), 'node_modules', '.bin');
const dir = mkdtempSync(join(tmpdir(), 'tasker-runtime-command-'));
const script = join(dir, 'which.mjs');
// The same test detectRuntime makes, written out: the script must not depend on the SDK's build.
writeFileSync(
  script,
  "const g = globalThis; console.log(g.Deno ? 'deno' : g.Bun ? 'bun' : 'node', process.argv.slice(2).join(' '));\n",
);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

it.each<JsRuntime>(['node', 'bun', 'deno'])('runs a script with its arguments on %s', async (runtime) => {
  const { command, args } = runtimeCommand(runtime, script, ['--flag', 'value'], BIN);
  const { stdout } = await promisify(execFile)(command, args, { timeout: 60_000 });
  expect(stdout.trim()).toBe(`${runtime} --flag value`);
});
