/**
 * The configuration tree (seed layout, under TASKER_CONFIG_ROOT, default ./config/tasker):
 *
 *   base/common.toml, base/<context>.toml                  defaults for every environment
 *   environments/<env>/common.toml                         what this environment changes
 *   environments/<env>/<context>.toml                      what it changes for one context
 *
 * layered in that order (base < environment < context), environment variables on top. Every
 * file is optional; a missing tree means the built-in defaults, which base/ repeats.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cwd } from 'node:process';
import type { ConfigProblem } from './errors.ts';
import { envValue, type Env } from './environment.ts';
import { displayPath, readLayer, type Layer } from './layers.ts';
import type { ConfigContext, TaskerEnvironment } from './types.ts';

/** The tree's root: an explicit one (option or TASKER_CONFIG_ROOT) must exist. */
export interface TreeRoot {
  path: string;
  explicit: boolean;
}

/** Where the tree is: `root`, else TASKER_CONFIG_ROOT, else ./config/tasker. */
export function treeRoot(env: Env, root?: string): TreeRoot {
  const explicit = root ?? envValue(env, 'TASKER_CONFIG_ROOT');
  return explicit === undefined ? { path: resolve(cwd(), 'config/tasker'), explicit: false } : { path: resolve(explicit), explicit: true };
}

/** The files of one context and environment, lowest precedence first, with what each may hold. */
export function treeFiles(root: string, environment: TaskerEnvironment, context: ConfigContext): Array<{ path: string; sections: string[] }> {
  const envDir = join(root, 'environments', environment);
  return [
    { path: join(root, 'base', 'common.toml'), sections: ['common'] },
    { path: join(root, 'base', `${context}.toml`), sections: ['common', context] },
    { path: join(envDir, 'common.toml'), sections: ['common'] },
    { path: join(envDir, `${context}.toml`), sections: ['common', context] },
  ];
}

/** Reads the tree's layers; a missing root is fine unless it was asked for explicitly. */
export async function readTree(
  root: TreeRoot,
  environment: TaskerEnvironment,
  context: ConfigContext,
  problems: ConfigProblem[],
): Promise<Layer[]> {
  const isDir = await stat(root.path).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) {
    if (root.explicit) {
      problems.push({ key: 'TASKER_CONFIG_ROOT', problem: `${displayPath(root.path)} is not a directory of config files` });
    }
    return [];
  }
  const layers: Layer[] = [];
  for (const file of treeFiles(root.path, environment, context)) {
    const layer = await readLayer(file.path, { sections: file.sections, merged: false }, problems, true);
    if (layer !== undefined) layers.push(layer);
  }
  return layers;
}
