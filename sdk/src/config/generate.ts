/**
 * `config generate`: merges the tree for one context and environment into the single file a
 * deployment points TASKER_CONFIG_PATH at. Environment variables are left out (they still
 * override at run time), and so is DATABASE_URL: a generated file never holds a password.
 * The output is deterministic (no timestamp), so an image rebuilt from the same tree is the same.
 */
import type { Env } from './environment.ts';
import { keysOf, loadTreeConfig } from './load.ts';
import { flatValues } from './resolve.ts';
import { toToml, type OutputEntry } from './toml-out.ts';
import type { ConfigContext, TaskerConfig } from './types.ts';

/** Options of {@link generateConfig}. */
export interface GenerateConfigOptions {
  context: ConfigContext;
  environment: string;
  /** The tree's root. Default: TASKER_CONFIG_ROOT, else ./config/tasker. */
  root?: string;
  env?: Env;
}

/** The merged file's text and the config it holds. */
export interface GeneratedConfig {
  text: string;
  config: TaskerConfig;
}

/** Validates the tree for a context and environment and renders the merged file. */
export async function generateConfig(options: GenerateConfigOptions): Promise<GeneratedConfig> {
  const config = await loadTreeConfig(options);
  const values = flatValues(config);
  const entries: OutputEntry[] = keysOf(config.context)
    .filter((spec) => spec.envOnly !== true)
    .map((spec) => {
      const value = values.get(spec.key);
      // A computed default stays computed: written out, it would stop following the keys it
      // depends on (a poll interval frozen at 1000 would outlive a switch to PollingOnly).
      const computed = config.sources[spec.key] === 'default' && spec.default === undefined;
      return computed ? { spec, value: undefined, ...(value === undefined ? {} : { example: value }) } : { spec, value };
    });
  const preamble = [
    `Tasker configuration: ${config.context} context, ${config.environment} environment.`,
    `Made by \`tasker-ctl config generate --context ${config.context} --environment ${config.environment}\` from:`,
    ...(config.files.length === 0 ? ['  (no files: the built-in defaults)'] : config.files.map((file) => `  ${file}`)),
    'Point TASKER_CONFIG_PATH at this file. Environment variables still override its values',
    '(see docs/config.md). DATABASE_URL is never written here: set it in the environment.',
  ];
  const text = toToml(preamble, [['environment', config.environment], ['context', config.context]], entries);
  return { text, config };
}
