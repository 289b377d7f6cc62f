/** The process environment and TASKER_ENV, read the same way everywhere in the config code. */
import { ConfigError } from './errors.ts';
import { nearest } from './suggest.ts';
import { TASKER_ENVIRONMENTS, type TaskerEnvironment } from './types.ts';

/** Environment variables as a plain record. */
export type Env = Readonly<Record<string, string | undefined>>;

/** The process environment; empty where it cannot be read (Deno without --allow-env). */
export function processEnv(): Env {
  try {
    return globalThis.process?.env ?? {};
  } catch {
    return {};
  }
}

/** A variable's value, undefined when unset or blank. */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Checks an environment name; `from` names where it came from (TASKER_ENV, --environment). */
export function parseEnvironment(value: string, from: string): TaskerEnvironment {
  const found = TASKER_ENVIRONMENTS.find((candidate) => candidate === value);
  if (found !== undefined) return found;
  const guess = nearest(value, TASKER_ENVIRONMENTS);
  throw new ConfigError([
    {
      key: from,
      problem: `must be one of ${TASKER_ENVIRONMENTS.join(', ')}, got ${JSON.stringify(value)}${guess === undefined ? '' : `; did you mean ${guess}?`}`,
    },
  ]);
}

/** TASKER_ENV, default development. */
export function environmentFrom(env: Env): TaskerEnvironment {
  const value = envValue(env, 'TASKER_ENV');
  return value === undefined ? 'development' : parseEnvironment(value, 'TASKER_ENV');
}
