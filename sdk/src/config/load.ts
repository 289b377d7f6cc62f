/**
 * loadConfig(): the configuration a worker or orchestrator runs with. Either one merged file
 * (TASKER_CONFIG_PATH, made by `tasker-ctl config generate`; required in production, where a
 * deployment must run exactly the file it shipped) or the config tree (base → environment →
 * context), then environment variables on top. Every problem is collected and thrown together.
 */
import { resolve } from 'node:path';
import { ConfigError, type ConfigProblem } from './errors.ts';
import { envValue, parseEnvironment, processEnv, type Env } from './environment.ts';
import { displayPath, environmentLayer, readLayer, type Layer } from './layers.ts';
import { buildConfig, mergeLayers } from './resolve.ts';
import { CONFIG_KEYS, sectionOf } from './schema.ts';
import { readTree, treeRoot } from './tree.ts';
import type { ConfigContext, TaskerConfig, TaskerEnvironment } from './types.ts';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Which service the config is for. */
  context: ConfigContext;
  /** test | development | production. Default: TASKER_ENV, else development. */
  environment?: string;
  /** Environment variables. Default: process.env. */
  env?: Env;
  /** A merged file. Default: TASKER_CONFIG_PATH; without one, the tree is read. */
  path?: string;
  /** The tree's root. Default: TASKER_CONFIG_ROOT, else ./config/tasker. */
  root?: string;
}

/**
 * Loads and validates a configuration.
 *
 * @example
 * const config = await loadConfig({ context: 'worker' });
 * await Worker.fromConfig(config, { handlers }).run();
 */
export async function loadConfig(options: LoadConfigOptions): Promise<TaskerConfig> {
  const env = options.env ?? processEnv();
  const problems: ConfigProblem[] = [];
  const explicitEnvironment = options.environment ?? envValue(env, 'TASKER_ENV');
  const from = options.environment === undefined ? 'TASKER_ENV' : 'environment';
  let environment: TaskerEnvironment = explicitEnvironment === undefined ? 'development' : parseEnvironment(explicitEnvironment, from);
  const path = options.path ?? envValue(env, 'TASKER_CONFIG_PATH');
  const layers: Layer[] = [];

  if (path !== undefined) {
    const layer = await readLayer(resolve(path), { sections: ['common', options.context], merged: true }, problems, false);
    if (layer !== undefined) {
      layers.push(layer);
      environment = checkMeta(layer, options.context, explicitEnvironment === undefined ? undefined : { environment, from }, problems) ?? environment;
    }
  } else if (environment === 'production') {
    throw new ConfigError([
      {
        key: 'TASKER_CONFIG_PATH',
        problem:
          `is required when TASKER_ENV=production: set it to the merged config file, made with ` +
          `\`tasker-ctl config generate --context ${options.context} --environment production --output PATH\``,
      },
    ]);
  } else {
    layers.push(...(await readTree(treeRoot(env, options.root), environment, options.context, problems)));
  }
  layers.push(environmentLayer(env, keysOf(options.context), problems));
  return finish(layers, environment, options.context, problems);
}

/**
 * The context a merged file at `path` (or TASKER_CONFIG_PATH) was made for, when one applies and
 * names a known context; undefined otherwise (no file, unreadable, or no `context` in it). A
 * check of such a file without a context is a check for the context it was made for.
 */
export async function mergedFileContext(path: string | undefined, env: Env = processEnv()): Promise<ConfigContext | undefined> {
  const file = path ?? envValue(env, 'TASKER_CONFIG_PATH');
  if (file === undefined) return undefined;
  const layer = await readLayer(resolve(file), { sections: ['common', 'worker', 'orchestration'], merged: true }, [], false);
  const context = layer?.meta.context;
  return context === 'worker' || context === 'orchestration' ? context : undefined;
}

/** Options of {@link loadTreeConfig}. */
export interface LoadTreeOptions {
  context: ConfigContext;
  environment: string;
  root?: string;
  env?: Env;
}

/**
 * The tree alone for one context and environment, without environment variables: what
 * `config generate` writes. Production needs no TASKER_CONFIG_PATH here: this makes it.
 */
export async function loadTreeConfig(options: LoadTreeOptions): Promise<TaskerConfig> {
  const environment = parseEnvironment(options.environment, 'environment');
  const problems: ConfigProblem[] = [];
  const layers = await readTree(treeRoot(options.env ?? processEnv(), options.root), environment, options.context, problems);
  return finish(layers, environment, options.context, problems);
}

/** The keys a context reads: the common ones and its own. */
export function keysOf(context: ConfigContext): typeof CONFIG_KEYS {
  return CONFIG_KEYS.filter((spec) => {
    const section = sectionOf(spec.key);
    return section === 'common' || section === context;
  });
}

function finish(layers: Layer[], environment: TaskerEnvironment, context: ConfigContext, problems: ConfigProblem[]): TaskerConfig {
  if (problems.length > 0) throw new ConfigError(problems);
  const files = layers.filter((layer) => layer.source !== 'environment').map((layer) => layer.source);
  const config = buildConfig({ environment, context, files, values: mergeLayers(layers) }, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * A merged file names the context and environment it was made for: using it for another is a
 * mistake worth stopping for. Returns the file's environment when TASKER_ENV did not name one.
 */
function checkMeta(
  layer: Layer,
  context: ConfigContext,
  explicit: { environment: TaskerEnvironment; from: string } | undefined,
  problems: ConfigProblem[],
): TaskerEnvironment | undefined {
  const { meta, source } = layer;
  if (meta.context !== undefined && meta.context !== context) {
    problems.push({
      key: 'context',
      problem: `the file was made for the ${meta.context} context; the ${context} needs one made with \`tasker-ctl config generate --context ${context}\``,
      source,
    });
  }
  if (meta.environment === undefined) return undefined;
  let fileEnvironment: TaskerEnvironment;
  try {
    fileEnvironment = parseEnvironment(meta.environment, 'environment');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems.map((problem) => ({ ...problem, source })));
    return undefined;
  }
  if (explicit !== undefined && explicit.environment !== fileEnvironment) {
    problems.push({
      key: 'environment',
      problem: `the file was made for ${fileEnvironment}, but ${explicit.from}=${explicit.environment}`,
      source: displayPath(source),
    });
  }
  return fileEnvironment;
}

