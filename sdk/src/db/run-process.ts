import { spawn } from 'node:child_process';

/** Who a child process runs as; only set when we are root and must drop privileges. */
export interface ProcessIdentity {
  uid: number;
  gid: number;
  /** For messages: the account name, or `uid N`. */
  name: string;
}

/** Outcome of {@link runProcess}; a non-zero `code` is not thrown, callers word their own errors. */
export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runProcess}. */
export interface RunProcessOptions {
  identity?: ProcessIdentity | undefined;
  timeoutMs?: number;
  cwd?: string;
}

/**
 * Runs a program to completion and captures its output. PG* variables are removed from
 * its environment so a developer's PGDATA/PGPORT cannot redirect initdb or pg_ctl.
 */
export function runProcess(command: string, args: readonly string[], options: RunProcessOptions = {}): Promise<ProcessResult> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('PG')) env[key] = value;
  }
  env.LC_ALL = 'C';
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.identity === undefined ? {} : { uid: options.identity.uid, gid: options.identity.gid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n(killed after ${options.timeoutMs} ms)`;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.once('error', (error) => {
      if (timer !== undefined) clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
