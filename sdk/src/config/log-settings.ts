/**
 * Log settings from environment variables alone, for writers made without a loaded config
 * (defaultLogWriter): the keys `common.log.level` and `common.log.format` read through the same
 * specs, checks and defaults as a loaded config, so TASKER_LOG_LEVEL, TASKER_LOG_FORMAT and
 * TASKER_ENV mean one thing everywhere.
 */
import { STEP_LOG_LEVELS, type StepLogLevel } from '../handler/logger.ts';
import type { ConfigProblem } from './errors.ts';
import { envValue, type Env } from './environment.ts';
import { LOG_FORMATS, keySpec, type KeySpec } from './schema.ts';
import { checkEnvValue } from './values.ts';
import type { LogFormat } from './types.ts';

/** Log settings from the environment alone, and any problem with them (never thrown). */
export interface EnvLogSettings {
  format: LogFormat;
  level: StepLogLevel;
  /** Bad values, replaced by their defaults: logging must go on whatever the environment says. */
  problems: ConfigProblem[];
}

/** TASKER_LOG_LEVEL (default info), TASKER_LOG_FORMAT (default json in production, else pretty). */
export function logSettingsFromEnv(env: Env): EnvLogSettings {
  const problems: ConfigProblem[] = [];
  const level = read(spec('common.log.level'), env, problems);
  const format = read(spec('common.log.format'), env, problems);
  return {
    level: STEP_LOG_LEVELS.find((candidate) => candidate === level) ?? 'info',
    format: LOG_FORMATS.find((candidate) => candidate === format) ?? (envValue(env, 'TASKER_ENV') === 'production' ? 'json' : 'pretty'),
    problems,
  };
}

function read(keySpecOf: KeySpec, env: Env, problems: ConfigProblem[]): string | undefined {
  const raw = envValue(env, keySpecOf.env);
  if (raw === undefined) return undefined;
  const checked = checkEnvValue(keySpecOf, raw);
  if (checked.ok) return typeof checked.value === 'string' ? checked.value : undefined;
  problems.push(checked.problem);
  return undefined;
}

function spec(key: string): KeySpec {
  const found = keySpec(key);
  if (found === undefined) throw new Error(`unknown config key ${key}`);
  return found;
}
