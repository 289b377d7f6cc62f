/**
 * Starts the example worker as a child process on Node, Bun and Deno, and stops them with
 * SIGTERM. Bun and Deno come from the npm packages `bun` and `deno` (node_modules/.bin); Node is
 * this process's own executable. Each child's log goes to a file; the demo shows it on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeCommand, type JsRuntime, type RuntimeCommand } from '@tasker/sdk';

export type RuntimeName = JsRuntime;

const WORKERS_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROJECT_ROOT = join(WORKERS_ROOT, '..');
const BIN = join(PROJECT_ROOT, 'node_modules', '.bin');

/** How each runtime starts the example worker: Node runs the compiled entry, Bun and Deno the source. */
export function workerCommand(runtime: RuntimeName): RuntimeCommand {
  const entry = runtime === 'node' ? join(WORKERS_ROOT, 'dist', 'entry', 'node.js') : join(WORKERS_ROOT, 'src', 'entry', `${runtime}.ts`);
  return runtimeCommand(runtime, entry, [], BIN);
}

/** A worker child process. */
export interface RuntimeWorker {
  runtime: RuntimeName;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/**
 * Starts the example worker on `runtime` and resolves once it logged "worker started"; rejects
 * (naming the log file) when it exits first or takes longer than `startTimeoutMs`.
 */
export async function startRuntimeWorker(
  runtime: RuntimeName,
  env: Record<string, string>,
  logDir: string,
  startTimeoutMs = 60_000,
): Promise<RuntimeWorker> {
  const { command, args } = workerCommand(runtime);
  const logFile = join(logDir, `worker-${runtime}.log`);
  const log: WriteStream = createWriteStream(logFile);
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      log.end();
      resolve(code);
    });
    child.once('error', (error) => {
      log.write(`failed to start ${command}: ${error.message}\n`);
      log.end();
      resolve(127);
    });
  });
  const started = new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`the ${runtime} worker did not start within ${startTimeoutMs} ms; see ${logFile}`)),
      startTimeoutMs,
    );
    const watch = (chunk: Buffer): void => {
      log.write(chunk);
      if (seen.includes('worker started')) return;
      seen = (seen + chunk.toString('utf8')).slice(-4096);
      if (seen.includes('worker started')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', watch);
    child.stderr?.on('data', watch);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the ${runtime} worker exited with code ${String(code)} before it started; see ${logFile}`));
    });
  });
  await started;
  return { runtime, child, logFile, exited };
}

/** Sends SIGTERM and resolves with the exit code, or kills after `timeoutMs`. */
export async function stopRuntimeWorker(worker: RuntimeWorker, timeoutMs = 30_000): Promise<number | null> {
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), timeoutMs);
  try {
    return await worker.exited;
  } finally {
    clearTimeout(timer);
  }
}
