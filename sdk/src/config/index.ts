/**
 * Configuration: TOML layered base → environment → context → environment variables, or one
 * merged file (TASKER_CONFIG_PATH). See docs/config.md.
 */
export { loadConfig, loadTreeConfig, keysOf, type LoadConfigOptions, type LoadTreeOptions } from './load.ts';
export { generateConfig, type GenerateConfigOptions, type GeneratedConfig } from './generate.ts';
export { describeConfig, type ShownKey } from './show.ts';
export { logWriterFromConfig } from './log.ts';
export { logSettingsFromEnv, type EnvLogSettings } from './log-settings.ts';
export { ConfigError, formatProblem, type ConfigProblem } from './errors.ts';
export { CONFIG_KEYS, keySpec, type ConfigValue, type KeySpec, type ValueKind } from './schema.ts';
export { treeFiles, treeRoot } from './tree.ts';
export {
  CONFIG_CONTEXTS,
  TASKER_ENVIRONMENTS,
  type CommonConfig,
  type ConfigContext,
  type EventMode,
  type ListenerConfig,
  type LogFormat,
  type MigrationMode,
  type OrchestrationConfig,
  type TaskerConfig,
  type TaskerEnvironment,
  type WorkerConfig,
} from './types.ts';
