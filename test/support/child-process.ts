/**
 * Running a program in a child process and collecting what it printed, with bounds: for tests
 * whose subject must run in a process of its own (a leak check measures its own RSS).
 */
import { spawn } from 'node:child_process';

/** How a child process ended. */
export interface ChildResult {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when it ran out of time (timeoutMs) and was killed. */
  timedOut: boolean;
  /** True when it printed `exitAfter.output` but had not exited `exitAfter.withinMs` later, and was killed. */
  hung: boolean;
  seconds: number;
}

/** Options of {@link runChild}. */
export interface RunChildOptions {
  /** The child is killed (SIGKILL) after this long. */
  timeoutMs: number;
  /**
   * Once stdout matches `output` (its last word, say), the child must exit within `withinMs`, or
   * it is killed and `hung` is set: a process that finished its work but cannot exit (a handle
   * still holding its event loop) fails in a minute instead of running into `timeoutMs`.
   */
  exitAfter?: { output: RegExp; withinMs: number };
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs `file` with `args`. Never rejects for an exit code; rejects only if it cannot be started. */
export function runChild(file: string, args: string[], options: RunChildOptions): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let hung = false;
    let grace: ReturnType<typeof setTimeout> | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const exitAfter = options.exitAfter;
      if (exitAfter !== undefined && grace === undefined && exitAfter.output.test(stdout)) {
        grace = setTimeout(() => {
          hung = true;
          child.kill('SIGKILL');
        }, exitAfter.withinMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      clearTimeout(grace);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(grace);
      resolve({ code, signal, stdout, stderr, timedOut, hung, seconds: Math.round((Date.now() - started) / 1000) });
    });
  });
}

/** The last `chars` characters of `text`, for failure messages. */
export function tail(text: string, chars = 3_000): string {
  return text.length <= chars ? text : `…${text.slice(-chars)}`;
}
