import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { runningAsRoot } from './os-user.ts';

/** Where one embedded server keeps everything. */
export interface EmbeddedPaths {
  stateDir: string;
  /** PGDATA. */
  dataDir: string;
  /** Port and credentials (mode 0600). */
  serverFile: string;
  logFile: string;
  socketDir: string;
  /** Serialises start/stop between processes. */
  lockFile: string;
}

/** Options shared by the embedded-server functions for locating the state directory. */
export interface EmbeddedLocationOptions {
  /** Explicit state directory; beats TASKER_EMBEDDED_PG_DIR. */
  stateDir?: string;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}

/**
 * The project whose server this is: the nearest ancestor of `cwd` with a package.json,
 * or, when that package sits inside an npm workspace, the workspace root, so running
 * from a workspace package does not start a second server for the same repository.
 */
export function findProjectRoot(cwd: string = process.cwd()): string {
  let nearest: string | undefined;
  let dir = resolve(cwd);
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      nearest ??= dir;
      if (declaresWorkspaces(manifest)) return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) return nearest ?? resolve(cwd);
    dir = parent;
  }
}

/**
 * The state directory: TASKER_EMBEDDED_PG_DIR if set; as root a directory under the OS
 * temp dir (the server runs as `postgres`, which must be able to traverse every parent,
 * and a checkout under /root is not traversable); else `<project>/.tasker/postgres`.
 */
export function resolveEmbeddedStateDir(options: EmbeddedLocationOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  if (options.stateDir !== undefined) return resolve(cwd, options.stateDir);
  const fromEnv = (options.env ?? process.env).TASKER_EMBEDDED_PG_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return resolve(cwd, fromEnv);
  const projectRoot = findProjectRoot(cwd);
  if (runningAsRoot()) {
    const digest = createHash('sha256').update(projectRoot).digest('hex').slice(0, 10);
    return join(tmpdir(), `tasker-pg-${digest}`);
  }
  return join(projectRoot, '.tasker', 'postgres');
}

/** Lays out the files inside a state directory. */
export function embeddedPaths(stateDir: string): EmbeddedPaths {
  return {
    stateDir,
    dataDir: join(stateDir, 'data'),
    serverFile: join(stateDir, 'server.json'),
    logFile: join(stateDir, 'postgres.log'),
    socketDir: join(stateDir, 'run'),
    lockFile: join(stateDir, 'lock'),
  };
}

function declaresWorkspaces(manifest: string): boolean {
  try {
    const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && 'workspaces' in parsed;
  } catch {
    return false;
  }
}
