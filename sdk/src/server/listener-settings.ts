/**
 * Which REST and gRPC servers a worker or orchestrator runs, from its options and its loaded
 * config. A config runs them as it says (worker.web / worker.grpc, orchestration.web /
 * orchestration.grpc: on by default, on the seed ports); a service built without a config runs
 * none unless its options ask, so embedding a Worker in a program or a test never takes a port
 * by surprise.
 */
import type { ListenerConfig } from '../config/types.ts';

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

/** The listener to run, or undefined for none. */
export function resolveListener(option: ListenerOption | undefined, fromConfig: ListenerConfig | undefined, defaultPort: number): ListenerConfig | undefined {
  if (option === false) return undefined;
  if (option === undefined) return fromConfig?.enabled === true ? { ...fromConfig } : undefined;
  const listener = {
    enabled: option.enabled ?? true,
    host: option.host ?? fromConfig?.host ?? '0.0.0.0',
    port: option.port ?? fromConfig?.port ?? defaultPort,
  };
  if (!Number.isInteger(listener.port) || listener.port < 0 || listener.port > 65_535) {
    throw new RangeError(`a server port must be a whole number from 0 to 65535, got ${listener.port}`);
  }
  return listener.enabled ? listener : undefined;
}
