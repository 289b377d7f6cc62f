/** Shared helpers of the embedded-server/demo review tests: private state dirs, CLI and demo runs. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopEmbeddedPostgres } from '../../sdk/src/index.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'sdk/dist/cli/tasker-ctl.js');
export const DEMO = join(ROOT, 'workers/dist/demo/main.js');

/** A fresh /tmp directory (0755, so the `postgres` OS user can traverse it when we are root). */
export async function scratch(prefix: string): Promise<{ path: string; stateDir: (name?: string) => string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `tasker-embedded-test-${prefix}-`));
  await chmod(path, 0o755);
  const used = new Set<string>();
  return {
    path,
    stateDir: (name = 'pg') => {
      const dir = join(path, name);
      used.add(dir);
      return dir;
    },
    cleanup: async () => {
      for (const dir of used) await stopEmbeddedPostgres({ stateDir: dir }).catch(() => {});
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** The environment of a child: no DATABASE_URL, our own state dir. */
export function childEnv(stateDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TASKER_EMBEDDED_PG_DIR: stateDir, ...extra };
  delete env.DATABASE_URL;
  delete env.NODE_OPTIONS;
  Object.assign(env, extra);
  return env;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

/** Runs `tasker-ctl ...args` to the end. */
export function runCli(args: readonly string[], stateDir: string, timeoutMs = 120_000): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: childEnv(stateDir), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

/** A demo run in a process group of its own (so a Ctrl-C can be sent to the group, like a terminal does). */
export interface DemoProcess {
  child: ChildProcess;
  output(): string;
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves with how it exited, or undefined when it did not within `timeoutMs`. */
  exited(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined>;
  /** Processes still in the demo's process group (the demo and the workers it spawned). */
  groupMembers(): string[];
  /** SIGKILLs whatever is left of the group. */
  kill(): void;
}

export function startDemo(stateDir: string, extraEnv: Record<string, string> = {}): DemoProcess {
  const child = spawn(process.execPath, [DEMO], { cwd: ROOT, env: childEnv(stateDir, extraEnv), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const listeners: Array<() => void> = [];
  const notify = (): void => listeners.forEach((l) => l());
  child.stdout.on('data', (c: Buffer) => ((out += c.toString()), notify()));
  child.stderr.on('data', (c: Buffer) => ((out += c.toString()), notify()));
  child.once('exit', (code, signal) => ((exit = { code, signal }), notify()));
  const pgid = child.pid ?? -1;
  return {
    child,
    output: () => out,
    waitFor: (text, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`demo did not print ${JSON.stringify(text)} in ${timeoutMs} ms:\n${out}`)), timeoutMs);
        const check = (): void => {
          if (out.includes(text)) {
            clearTimeout(timer);
            resolve();
          } else if (exit !== undefined) {
            clearTimeout(timer);
            reject(new Error(`demo exited before printing ${JSON.stringify(text)}:\n${out}`));
          }
        };
        listeners.push(check);
        check();
      }),
    exited: (timeoutMs) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        const check = (): void => {
          if (exit !== undefined) {
            clearTimeout(timer);
            resolve(exit);
          }
        };
        listeners.push(check);
        check();
      }),
    groupMembers: () => {
      const ps = execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
      return ps
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((f) => f.length >= 4 && Number(f[1]) === pgid && !f[2]?.startsWith('Z'))
        .map((f) => f.slice(3).join(' ').replace(ROOT, ''));
    },
    kill: () => {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}
