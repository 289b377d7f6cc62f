/**
 * WorkerCoreConfig with every default filled in and every value checked, so the rest of the core
 * never looks at an optional field. The defaults are those documented on WorkerCoreConfig.
 */
import { parseDatabaseUrl } from '../../db/database-url.ts';
import { InvalidWorkerCoreConfigError } from '../errors.ts';
import type { DeploymentMode, WorkerCoreConfig } from '../types.ts';

/**
 * The defaults that follow from other settings, for every binding here and for config/resolve.ts,
 * which shows them (`tasker-ctl config show`). The native core keeps the same ones in
 * native/src/config.rs.
 */
export const derivedCoreDefaults = {
  /** Claims grow from batchSize to this while handlers keep up (claim-size.ts). */
  maxBatchSize: (batchSize: number): number => Math.max(batchSize, 100),
  /** Two of the largest claims. */
  prefetch: (maxBatchSize: number): number => 2 * maxBatchSize,
  /** Three heartbeats per lease. */
  heartbeatMs: (leaseSeconds: number): number => Math.max(1, Math.floor((leaseSeconds * 1000) / 3)),
  pollIntervalMs: (mode: DeploymentMode): number => (mode === 'PollingOnly' ? 100 : 1000),
};

/** A WorkerCoreConfig with nothing left optional. */
export interface ResolvedCoreConfig {
  databaseUrl: string;
  workerId: string;
  namespaces: string[];
  mode: DeploymentMode;
  prefetch: number;
  batchSize: number;
  maxBatchSize: number;
  leaseSeconds: number;
  heartbeatMs: number;
  pollIntervalMs: number;
  reportBatchMax: number;
  reportLingerMs: number;
  poolSize: number;
}

const MODES: readonly DeploymentMode[] = ['Hybrid', 'EventDrivenOnly', 'PollingOnly'];
/** Same rule as tasker.queue_name(): the namespace also becomes a LISTEN channel name. */
const NAMESPACE = /^[a-z][a-z0-9_]{0,33}$/;

function integer(field: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new InvalidWorkerCoreConfigError(field, `must be an integer ${range}, got ${JSON.stringify(value)}`);
  }
  return value;
}

const MS_PER_DAY = 86_400_000;

/** Checks a config and fills in the defaults; throws InvalidWorkerCoreConfigError naming the field. */
export function resolveCoreConfig(config: WorkerCoreConfig): ResolvedCoreConfig {
  if (typeof config !== 'object' || config === null) {
    throw new InvalidWorkerCoreConfigError('config', 'must be an object');
  }
  if (typeof config.databaseUrl !== 'string' || config.databaseUrl === '') {
    throw new InvalidWorkerCoreConfigError('databaseUrl', 'is required');
  }
  parseDatabaseUrl(config.databaseUrl); // throws InvalidDatabaseUrlError without echoing the URL
  // Trimmed, as the native core trims it: the same id reaches the database whichever binding runs.
  const workerId = typeof config.workerId === 'string' ? config.workerId.trim() : '';
  if (workerId === '') {
    throw new InvalidWorkerCoreConfigError('workerId', 'is required');
  }
  if (!Array.isArray(config.namespaces) || config.namespaces.length === 0) {
    throw new InvalidWorkerCoreConfigError('namespaces', 'must list at least one namespace');
  }
  for (const namespace of config.namespaces) {
    if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
      throw new InvalidWorkerCoreConfigError(
        'namespaces',
        `contains ${JSON.stringify(namespace)}, which does not match ${NAMESPACE.source}`,
      );
    }
  }
  const mode = config.mode ?? 'Hybrid';
  if (!MODES.includes(mode)) {
    throw new InvalidWorkerCoreConfigError('mode', `must be one of ${MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
  const batchSize = integer('batchSize', config.batchSize, 10, 1, 1000);
  const maxBatchSize = integer('maxBatchSize', config.maxBatchSize, derivedCoreDefaults.maxBatchSize(batchSize), batchSize, 1000);
  const leaseSeconds = integer('leaseSeconds', config.leaseSeconds, 30, 1, 86_400);
  return {
    databaseUrl: config.databaseUrl,
    workerId,
    namespaces: [...new Set(config.namespaces)],
    mode,
    batchSize,
    maxBatchSize,
    // The upper bounds are the native core's (native/src/config.rs): every binding refuses the
    // same configs, naming the field.
    prefetch: integer('prefetch', config.prefetch, derivedCoreDefaults.prefetch(maxBatchSize), 1, 10_000_000),
    leaseSeconds,
    heartbeatMs: integer('heartbeatMs', config.heartbeatMs, derivedCoreDefaults.heartbeatMs(leaseSeconds), 1, MS_PER_DAY),
    pollIntervalMs: integer('pollIntervalMs', config.pollIntervalMs, derivedCoreDefaults.pollIntervalMs(mode), 1, MS_PER_DAY),
    reportBatchMax: integer('reportBatchMax', config.reportBatchMax, 100, 1, 1_000_000),
    reportLingerMs: integer('reportLingerMs', config.reportLingerMs, 0, 0, MS_PER_DAY),
    poolSize: integer('poolSize', config.poolSize, 4, 1, 10_000),
  };
}
