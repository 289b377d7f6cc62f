/**
 * The shape of a loaded configuration. Every value is resolved: defaults applied, computed
 * defaults (poll interval by mode, heartbeat by lease, ...) worked out, so the code that uses a
 * config never has to know a default itself.
 */
import type { BindingName, DeploymentMode } from '../binding/types.ts';
import type { DeploymentMode as MigrationMode } from '../db/migration-settings.ts';
import type { StepLogLevel } from '../handler/logger.ts';

/** `TASKER_ENV`: which environment's files are layered over the base. */
export type TaskerEnvironment = 'test' | 'development' | 'production';

/** The environments, in documentation order. */
export const TASKER_ENVIRONMENTS: readonly TaskerEnvironment[] = ['test', 'development', 'production'];

/** Which service a configuration is for: it picks the context files and sections. */
export type ConfigContext = 'orchestration' | 'worker';

/** The contexts, in documentation order. */
export const CONFIG_CONTEXTS: readonly ConfigContext[] = ['orchestration', 'worker'];

/** `pretty`: readable lines for people; `json`: one JSON object per line for a log collector. */
export type LogFormat = 'pretty' | 'json';

/**
 * How a worker or orchestrator learns that work is waiting (Hybrid | EventDrivenOnly |
 * PollingOnly). Not to be confused with {@link MigrationMode}, which the `DEPLOYMENT_MODE`
 * variable sets and which says whether the orchestrator migrates.
 */
export type EventMode = DeploymentMode;

export type { MigrationMode };

/**
 * A REST or gRPC listener. Port 0 asks the system for a free port; any other port is the base
 * port, to which the instance index is added (instance-port.ts).
 */
export interface ListenerConfig {
  enabled: boolean;
  host: string;
  port: number;
}

/** Settings every context shares. */
export interface CommonConfig {
  database: {
    /** DATABASE_URL; undefined means the embedded server. Never read from or written to a file. */
    url: string | undefined;
  };
  messaging: { backend: 'pgmq' };
  log: { level: StepLogLevel; format: LogFormat };
}

/** Settings of a worker. */
export interface WorkerConfig {
  /** WORKER_ID; undefined: `<runtime>-<host>-<pid>`. */
  id: string | undefined;
  /** Queues to serve; empty: the caller decides (tasker-ctl: --namespace or --templates). */
  namespaces: string[];
  concurrency: number;
  deploymentMode: EventMode;
  binding: BindingName;
  bindingFallback: 'none' | 'pg';
  shutdownGraceMs: number;
  pollIntervalMs: number;
  leaseSeconds: number;
  heartbeatMs: number;
  batchSize: number;
  maxBatchSize: number;
  prefetch: number;
  poolSize: number;
  reportBatchMax: number;
  reportLingerMs: number;
  web: ListenerConfig;
  grpc: ListenerConfig;
  /** Which cluster instance this is (0–9): its servers listen on the base ports + this. */
  instanceIndex: number;
}

/** Settings of the orchestration service. */
export interface OrchestrationConfig {
  deploymentMode: EventMode;
  sweepIntervalMs: number;
  migrations: { mode: MigrationMode; timeoutSeconds: number; retries: number };
  web: ListenerConfig;
  grpc: ListenerConfig;
  /** Which cluster instance this is (0–9): its servers listen on the base ports + this. */
  instanceIndex: number;
}

/** A loaded, validated configuration. */
export interface TaskerConfig {
  environment: TaskerEnvironment;
  context: ConfigContext;
  /** The files merged, lowest precedence first. */
  files: readonly string[];
  /** Where each key's value came from: a file, an environment variable, or `default`. */
  sources: Readonly<Record<string, string>>;
  common: CommonConfig;
  worker: WorkerConfig;
  orchestration: OrchestrationConfig;
}
