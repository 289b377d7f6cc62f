/**
 * Which REST and gRPC servers a worker or orchestrator runs, from its options and its loaded
 * config. A config runs them as it says (worker.web / worker.grpc, orchestration.web /
 * orchestration.grpc: on by default, on the seed ports); a service built without a config runs
 * none unless its options ask, so embedding a Worker in a program or a test never takes a port
 * by surprise. Instance i of a cluster listens on the base ports + i (config/instance-port.ts).
 */
import { instancePort, MAX_INSTANCES } from '../config/instance-port.ts';
import type { ListenerConfig } from '../config/types.ts';
import { InvalidConfigError } from '../errors.ts';

/** A listener as an option: settings over the config's, or false for none. */
export type ListenerOption = Partial<ListenerConfig> | false;

/** Readiness limits, and how the health servers measure. Every field has a default. */
export interface HealthThresholds {
  /** Largest event-loop lag within the lag window that still counts as ready. Default 2,000 ms. */
  eventLoopBlockedMs?: number;
  /** How long one lag sample counts. Default 10,000 ms. */
  eventLoopWindowMs?: number;
  /**
   * A worker's claim loop with no round for this long, while a slot is free, is stalled.
   * Default 10 × the larger of the poll interval and the claim wait (1 s): 10 s.
   */
  claimStallMs?: number;
  /** How long a database probe may take. Default 2,000 ms. */
  databaseTimeoutMs?: number;
}

/** A listener to run: `port` is the one to bind, the base port plus the instance index. */
export interface ServerListener extends ListenerConfig {
  /** The configured port, before the instance index was added. */
  basePort: number;
  instanceIndex: number;
}

/**
 * The cluster instance index: the option, else the config's (TASKER_INSTANCE_ID), else 0. The
 * config checked its own; an option out of range is refused here.
 */
export function resolveInstanceIndex(option: number | undefined, fromConfig: number | undefined): number {
  if (option !== undefined && (!Number.isInteger(option) || option < 0 || option >= MAX_INSTANCES)) {
    throw new InvalidConfigError('instanceIndex', String(option), `a whole number from 0 to ${MAX_INSTANCES - 1}`);
  }
  return option ?? fromConfig ?? 0;
}

/**
 * The listener to run, or undefined for none. Its port is the base port (option, else config,
 * else `defaultPort`) plus `instanceIndex`, except port 0, which stays "any free port".
 */
export function resolveListener(
  option: ListenerOption | undefined,
  fromConfig: ListenerConfig | undefined,
  defaultPort: number,
  instanceIndex = 0,
): ServerListener | undefined {
  if (option === false) return undefined;
  if (option === undefined && fromConfig?.enabled !== true) return undefined;
  const base = {
    enabled: option === undefined ? true : (option.enabled ?? true),
    host: option?.host ?? fromConfig?.host ?? '0.0.0.0',
    port: option?.port ?? fromConfig?.port ?? defaultPort,
  };
  const port = instancePort(base.port, instanceIndex);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    const what = port === base.port ? `${base.port}` : `${base.port} + instance ${instanceIndex} = ${port}`;
    throw new InvalidConfigError('port', what, 'a whole number from 0 to 65535 (the base port plus the instance index)');
  }
  return base.enabled ? { ...base, port, basePort: base.port, instanceIndex } : undefined;
}
