/**
 * Runs the built tasker-ctl (sdk/dist/cli/tasker-ctl.js) as a child process, the way users and
 * scripts run it, so exit statuses and the split between stdout and stderr are what is tested.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, type Runtime } from '../support/runtime-launch.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = join(ROOT, 'test/cli/fixtures');
const CLI = join(ROOT, 'sdk/dist/cli/tasker-ctl.js');

/** What one run printed and how it exited. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The runtimes tasker-ctl runs on, and how to start it on each. */
export type { Runtime };

/** Extra environment of one run (TASKER_ENV, TASKER_CONFIG_PATH, ...), over the defaults. */
export type CliEnv = Readonly<Record<string, string>>;

function start(args: readonly string[], databaseUrl: string | undefined, runtime: Runtime = 'node', extra: CliEnv = {}): ChildProcessWithoutNullStreams {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const env: NodeJS.ProcessEnv = { ...process.env, TASKER_ENV: 'test' };
  delete env['DATABASE_URL'];
  delete env['DEPLOYMENT_MODE'];
  // Config from the developer's shell must not leak into the runs under test.
  for (const name of Object.keys(env)) if (/^TASKER_(CONFIG_|WORKER_|ORCHESTRATION_|LOG_)/.test(name)) delete env[name];
  if (databaseUrl !== undefined) env['DATABASE_URL'] = databaseUrl;
  Object.assign(env, extra);
  const [command, ...launchArgs] = launch(runtime, CLI, ...args);
  return spawn(command, launchArgs, { cwd: ROOT, env, stdio: 'pipe' });
}

/** Runs `tasker-ctl ...args` to the end (killing it after `timeoutMs`). */
export function runCli(args: readonly string[], options: { databaseUrl?: string; timeoutMs?: number; env?: CliEnv } = {}): Promise<CliResult> {
  const child = start(args, options.databaseUrl, 'node', options.env);
  child.stdin.end();
  const output = collect(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, ...output() });
    });
  });
}

/** A long-running tasker-ctl (worker, orchestrator): its output so far, a way to wait for a line, and its exit. */
export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  output(): { stdout: string; stderr: string };
  /** Resolves once stdout or stderr contains `text`; rejects when the process exits first or after `timeoutMs`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

/** Starts `tasker-ctl ...args` and leaves it running. */
export function spawnCli(args: readonly string[], options: { databaseUrl?: string; runtime?: Runtime; env?: CliEnv } = {}): CliProcess {
  const child = start(args, options.databaseUrl, options.runtime, options.env);
  const output = collect(child);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const waitFor = async (text: string, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { stdout, stderr } = output();
      if (stdout.includes(text) || stderr.includes(text)) return;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`tasker-ctl ${args.join(' ')} never printed "${text}" (exit ${child.exitCode}); stderr:\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  return { child, output, waitFor, exited };
}

function collect(child: ChildProcessWithoutNullStreams): () => { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return () => ({ stdout, stderr });
}
