import { InvalidConfigError } from '../errors.ts';

/** How a deployment treats migrations (env `DEPLOYMENT_MODE`). */
export type DeploymentMode = 'standard' | 'migrate-only' | 'no-migrate';

/** Every accepted {@link DeploymentMode}, in documentation order. */
export const DEPLOYMENT_MODES: readonly DeploymentMode[] = ['standard', 'migrate-only', 'no-migrate'];

/** DB_MIGRATION_TIMEOUT (seconds): the budget's bounds, shared with the config schema. */
export const MIGRATION_TIMEOUT_SECONDS = { min: 1, max: 86_400 } as const;
/** DB_MIGRATION_RETRIES: the bounds, shared with the config schema. */
export const MIGRATION_RETRIES = { min: 0, max: 100 } as const;

/** The effective settings of one migration run. */
export interface MigrationSettings {
  mode: DeploymentMode;
  timeoutSeconds: number;
  retries: number;
}

/** Explicit values win over the environment; both are validated the same way. */
export interface MigrationSettingsInput {
  mode?: string;
  timeoutSeconds?: number;
  retries?: number;
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Resolves mode, timeout and retries from explicit options, then `DEPLOYMENT_MODE`,
 * `DB_MIGRATION_TIMEOUT` and `DB_MIGRATION_RETRIES`, then defaults (standard, 300, 3).
 * A bad value is an error naming the variable and what it accepts, never a silent default.
 */
export function resolveMigrationSettings(input: MigrationSettingsInput = {}): MigrationSettings {
  const env = input.env ?? process.env;
  return {
    mode:
      input.mode !== undefined
        ? parseDeploymentMode(input.mode, 'mode')
        : parseDeploymentMode(nonEmpty(env.DEPLOYMENT_MODE) ?? 'standard', 'DEPLOYMENT_MODE'),
    timeoutSeconds:
      input.timeoutSeconds !== undefined
        ? checkInteger(input.timeoutSeconds, 'timeoutSeconds', MIGRATION_TIMEOUT_SECONDS)
        : parseInteger(env.DB_MIGRATION_TIMEOUT, 'DB_MIGRATION_TIMEOUT', 300, MIGRATION_TIMEOUT_SECONDS),
    retries:
      input.retries !== undefined
        ? checkInteger(input.retries, 'retries', MIGRATION_RETRIES)
        : parseInteger(env.DB_MIGRATION_RETRIES, 'DB_MIGRATION_RETRIES', 3, MIGRATION_RETRIES),
  };
}

/** Validates a deployment mode; `variable` names where the value came from. */
export function parseDeploymentMode(value: string, variable = 'DEPLOYMENT_MODE'): DeploymentMode {
  const mode = DEPLOYMENT_MODES.find((candidate) => candidate === value);
  if (mode === undefined) throw new InvalidConfigError(variable, value, `one of ${DEPLOYMENT_MODES.join(', ')}`);
  return mode;
}

interface Range {
  min: number;
  max: number;
}

function parseInteger(raw: string | undefined, variable: string, fallback: number, range: Range): number {
  const text = nonEmpty(raw);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim())) throw new InvalidConfigError(variable, text, `a whole number from ${range.min} to ${range.max}`);
  return checkInteger(Number(text), variable, range);
}

// Beyond the maximum, a budget in ms overflows setTimeout, which then fires at once.
function checkInteger(value: number, variable: string, range: Range): number {
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new InvalidConfigError(variable, String(value), `a whole number from ${range.min} to ${range.max}`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
