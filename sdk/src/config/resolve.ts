/**
 * Turns merged layers into a TaskerConfig: later layers win key by key, defaults fill the rest,
 * computed defaults are worked out from the values they depend on, and the checks that span
 * several keys (a heartbeat shorter than the lease, REST and gRPC on different ports) run last.
 */
import type { ConfigProblem } from './errors.ts';
import type { Layer, Sourced } from './layers.ts';
import {
  BINDING_FALLBACKS,
  BINDINGS,
  CONFIG_KEYS,
  EVENT_MODES,
  LOG_FORMATS,
  MESSAGING_BACKENDS,
  keySpec,
  type ConfigValue,
} from './schema.ts';
import { derivedCoreDefaults } from '../binding/pg/config.ts';
import { DEPLOYMENT_MODES } from '../db/migration-settings.ts';
import { instancePort } from './instance-port.ts';
import { STEP_LOG_LEVELS } from '../handler/logger.ts';
import type { ConfigContext, ListenerConfig, TaskerConfig, TaskerEnvironment } from './types.ts';

/** Merges layers, lowest precedence first: each key takes the value of the last layer that sets it. */
export function mergeLayers(layers: readonly Layer[]): Map<string, Sourced> {
  const merged = new Map<string, Sourced>();
  for (const layer of layers) for (const [key, value] of layer.values) merged.set(key, value);
  return merged;
}

/** What {@link buildConfig} needs besides the values. */
export interface BuildInput {
  environment: TaskerEnvironment;
  context: ConfigContext;
  files: readonly string[];
  values: ReadonlyMap<string, Sourced>;
}

/** Builds the config; cross-key problems are pushed to `problems` (the result is then unusable). */
export function buildConfig(input: BuildInput, problems: ConfigProblem[]): TaskerConfig {
  const sources: Record<string, string> = {};
  const read = (key: string, computed?: ConfigValue): ConfigValue | undefined => {
    const set = input.values.get(key);
    const fallback = computed ?? keySpec(key)?.default;
    if (set !== undefined) sources[key] = set.source;
    else if (fallback !== undefined) sources[key] = 'default';
    return set?.value ?? fallback;
  };
  const int = (key: string, computed?: number): number => {
    const value = read(key, computed);
    if (typeof value !== 'number') throw new Error(`config key ${key} has no number`);
    return value;
  };
  const bool = (key: string): boolean => read(key) === true;
  const text = (key: string, computed?: string): string | undefined => {
    const value = read(key, computed);
    return typeof value === 'string' ? value : undefined;
  };
  const pick = <T extends string>(key: string, allowed: readonly T[], computed?: T): T => {
    const value = read(key, computed);
    const found = allowed.find((candidate) => candidate === value);
    if (found === undefined) throw new Error(`config key ${key} has no value among ${allowed.join(', ')}`);
    return found;
  };
  const list = (key: string): string[] => {
    const value = read(key);
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  };
  const listenerOf = (prefix: string): ListenerConfig => ({
    enabled: bool(`${prefix}.enabled`),
    host: text(`${prefix}.host`) ?? '0.0.0.0',
    port: int(`${prefix}.port`),
  });

  const workerMode = pick('worker.deployment_mode', EVENT_MODES);
  const leaseSeconds = int('worker.lease_seconds');
  const batchSize = int('worker.batch_size');
  const maxBatchSize = int('worker.max_batch_size', derivedCoreDefaults.maxBatchSize(batchSize));
  const config: TaskerConfig = {
    environment: input.environment,
    context: input.context,
    files: input.files,
    sources,
    common: {
      database: { url: text('common.database.url') },
      messaging: { backend: pick('common.messaging.backend', MESSAGING_BACKENDS) },
      log: {
        level: pick('common.log.level', STEP_LOG_LEVELS),
        format: pick('common.log.format', LOG_FORMATS, input.environment === 'production' ? 'json' : 'pretty'),
      },
    },
    worker: {
      id: text('worker.id'),
      namespaces: list('worker.namespaces'),
      concurrency: int('worker.concurrency'),
      deploymentMode: workerMode,
      binding: pick('worker.binding', BINDINGS),
      bindingFallback: pick('worker.binding_fallback', BINDING_FALLBACKS),
      shutdownGraceMs: int('worker.shutdown_grace_ms'),
      pollIntervalMs: int('worker.poll_interval_ms', derivedCoreDefaults.pollIntervalMs(workerMode)),
      leaseSeconds,
      heartbeatMs: int('worker.heartbeat_ms', derivedCoreDefaults.heartbeatMs(leaseSeconds)),
      batchSize,
      maxBatchSize,
      prefetch: int('worker.prefetch', derivedCoreDefaults.prefetch(maxBatchSize)),
      poolSize: int('worker.pool_size'),
      reportBatchMax: int('worker.report_batch_max'),
      reportLingerMs: int('worker.report_linger_ms'),
      web: listenerOf('worker.web'),
      grpc: listenerOf('worker.grpc'),
      instanceIndex: int('worker.instance_index'),
    },
    orchestration: {
      deploymentMode: pick('orchestration.deployment_mode', EVENT_MODES),
      sweepIntervalMs: int('orchestration.sweep_interval_ms'),
      migrations: {
        mode: pick('orchestration.migrations.mode', DEPLOYMENT_MODES),
        timeoutSeconds: int('orchestration.migrations.timeout_seconds'),
        retries: int('orchestration.migrations.retries'),
      },
      web: listenerOf('orchestration.web'),
      grpc: listenerOf('orchestration.grpc'),
      instanceIndex: int('orchestration.instance_index'),
    },
  };
  crossCheck(config, input.values, problems);
  return config;
}

function crossCheck(config: TaskerConfig, values: ReadonlyMap<string, Sourced>, problems: ConfigProblem[]): void {
  const { heartbeatMs, leaseSeconds, batchSize, maxBatchSize } = config.worker;
  if (maxBatchSize < batchSize) {
    problems.push({
      key: 'worker.max_batch_size',
      problem: `must be at least worker.batch_size (${batchSize}), the size claims start at; got ${maxBatchSize}`,
      source: values.get('worker.max_batch_size')?.source ?? values.get('worker.batch_size')?.source ?? 'default',
    });
  }
  if (heartbeatMs >= leaseSeconds * 1000) {
    problems.push({
      key: 'worker.heartbeat_ms',
      problem: `must be shorter than the lease (worker.lease_seconds = ${leaseSeconds}, so under ${leaseSeconds * 1000}), or leases lapse between heartbeats; got ${heartbeatMs}`,
      source: values.get('worker.heartbeat_ms')?.source ?? values.get('worker.lease_seconds')?.source ?? 'default',
    });
  }
  for (const section of ['worker', 'orchestration'] as const) {
    const { web, grpc, instanceIndex } = config[section];
    if (web.enabled && grpc.enabled && web.port !== 0 && web.port === grpc.port) {
      problems.push({
        key: `${section}.grpc.port`,
        problem: `must differ from ${section}.web.port (both ${web.port})`,
        source: values.get(`${section}.grpc.port`)?.source ?? values.get(`${section}.web.port`)?.source ?? 'default',
      });
    }
    // Only a context's own section matters: the other's defaults are never served.
    if (section !== config.context) continue;
    for (const protocol of ['web', 'grpc'] as const) {
      const listener = config[section][protocol];
      const port = instancePort(listener.port, instanceIndex);
      if (listener.enabled && port > 65_535) {
        problems.push({
          key: `${section}.instance_index`,
          problem: `instance ${instanceIndex} would serve on ${section}.${protocol}.port ${listener.port} + ${instanceIndex} = ${port}, above 65535: lower the base port or the index`,
          source: values.get(`${section}.instance_index`)?.source ?? values.get(`${section}.${protocol}.port`)?.source ?? 'default',
        });
      }
    }
  }
}

/** Every key's value as a flat map, for display and for generated files. */
export function flatValues(config: TaskerConfig): Map<string, ConfigValue | undefined> {
  const c = config;
  const listener = (prefix: string, l: ListenerConfig): Array<[string, ConfigValue]> => [
    [`${prefix}.enabled`, l.enabled],
    [`${prefix}.host`, l.host],
    [`${prefix}.port`, l.port],
  ];
  const entries: Array<[string, ConfigValue | undefined]> = [
    ['common.database.url', c.common.database.url],
    ['common.messaging.backend', c.common.messaging.backend],
    ['common.log.level', c.common.log.level],
    ['common.log.format', c.common.log.format],
    ['worker.id', c.worker.id],
    ['worker.namespaces', c.worker.namespaces],
    ['worker.concurrency', c.worker.concurrency],
    ['worker.deployment_mode', c.worker.deploymentMode],
    ['worker.binding', c.worker.binding],
    ['worker.binding_fallback', c.worker.bindingFallback],
    ['worker.shutdown_grace_ms', c.worker.shutdownGraceMs],
    ['worker.poll_interval_ms', c.worker.pollIntervalMs],
    ['worker.lease_seconds', c.worker.leaseSeconds],
    ['worker.heartbeat_ms', c.worker.heartbeatMs],
    ['worker.batch_size', c.worker.batchSize],
    ['worker.max_batch_size', c.worker.maxBatchSize],
    ['worker.prefetch', c.worker.prefetch],
    ['worker.pool_size', c.worker.poolSize],
    ['worker.report_batch_max', c.worker.reportBatchMax],
    ['worker.report_linger_ms', c.worker.reportLingerMs],
    ...listener('worker.web', c.worker.web),
    ...listener('worker.grpc', c.worker.grpc),
    ['worker.instance_index', c.worker.instanceIndex],
    ['orchestration.deployment_mode', c.orchestration.deploymentMode],
    ['orchestration.sweep_interval_ms', c.orchestration.sweepIntervalMs],
    ['orchestration.migrations.mode', c.orchestration.migrations.mode],
    ['orchestration.migrations.timeout_seconds', c.orchestration.migrations.timeoutSeconds],
    ['orchestration.migrations.retries', c.orchestration.migrations.retries],
    ...listener('orchestration.web', c.orchestration.web),
    ...listener('orchestration.grpc', c.orchestration.grpc),
    ['orchestration.instance_index', c.orchestration.instanceIndex],
  ];
  // A key added to the schema but not here would vanish from `config show` and generated files.
  const missing = CONFIG_KEYS.filter((spec) => !entries.some(([key]) => key === spec.key));
  if (missing.length > 0) throw new Error(`flatValues() lacks ${missing.map((spec) => spec.key).join(', ')}`);
  return new Map(entries);
}
