/**
 * What a Worker is told, and the defaults it fills in. Everything a user may leave out has a
 * default a newcomer can guess: DATABASE_URL, TASKER_BINDING (napi), 10 steps at once, a 30 s
 * shutdown grace period, a worker id naming the runtime, host and process. Given a loaded
 * config (`config`), its worker section supplies every setting an option leaves out: options
 * win over the config, the config wins over the built-in defaults.
 */
import { hostname } from 'node:os';
import type { BindingName, DeploymentMode, WorkerCoreConfig } from '../binding/types.ts';
import { detectRuntime, type JsRuntime } from '../runtime.ts';
import { logWriterFromConfig } from '../config/log.ts';
import { SHUTDOWN_GRACE_MS } from '../config/schema.ts';
import type { TaskerConfig } from '../config/types.ts';
import { InvalidConfigError } from '../errors.ts';
import { defaultLogWriter, type HandlerInput, type HandlerRegistry, type LogWriter } from '../handler/index.ts';
import { resolveInstanceIndex, resolveListener, type HealthThresholds, type ListenerOption, type ServerListener } from '../server/listener-settings.ts';
import type { StepFinishedEvent } from './events.ts';

/** Tuning of the worker core that a Worker passes through unchanged. */
export type WorkerCoreTuning = Omit<Partial<WorkerCoreConfig>, 'databaseUrl' | 'workerId' | 'namespaces' | 'mode'>;

/** Settings of a Worker. Only `handlers` and `namespaces` (here or in the config) are required. */
export interface WorkerOptions {
  /** Namespaces whose queues this worker serves. Default: the config's worker.namespaces. */
  namespaces?: readonly string[];
  /** The handlers this worker can run, by name: class or function style, or a registry. */
  handlers: readonly HandlerInput[] | HandlerRegistry;
  /** Default: the DATABASE_URL environment variable. */
  databaseUrl?: string;
  /** Most steps running at once. Default 10. */
  concurrency?: number;
  /** napi, ffi or pg. Default: TASKER_BINDING, else napi. */
  binding?: BindingName;
  /** Fall back to the pg binding when the chosen native one cannot load. Default: TASKER_BINDING_FALLBACK=pg. */
  allowBindingFallback?: boolean;
  /** Recorded as the actor of every transition this worker causes. Default `<runtime>-<host>-<pid>`. */
  workerId?: string;
  /** Hybrid (default), EventDrivenOnly or PollingOnly. */
  mode?: DeploymentMode;
  /** How long SIGTERM/SIGINT or stop() waits for running steps before aborting them. Default 30,000 ms. */
  shutdownGraceMs?: number;
  /** run() stops the worker on SIGTERM and SIGINT. Default true. */
  handleSignals?: boolean;
  /** Where log records go. Default: readable lines on stderr, JSON lines when TASKER_ENV=production. */
  logWriter?: LogWriter;
  /** Called after each step's report settled (or was skipped at shutdown). Exceptions are logged. */
  onStepFinished?: (event: StepFinishedEvent) => void;
  /** Worker-core tuning (prefetch, batch sizes, lease length, pool size...). Merged over the config's. */
  core?: WorkerCoreTuning;
  /**
   * The REST server (/health, /health/ready, /health/detailed, /metrics): `{ host?, port? }` (port
   * 0: any free port) or false. Default: the config's worker.web (on, port 8085); none without a config.
   */
  web?: ListenerOption;
  /** The gRPC server (health and grpc.health.v1), like `web`. Default: the config's worker.grpc (port 9400). */
  grpc?: ListenerOption;
  /**
   * Which instance of a cluster this worker is (0–9): its servers listen on the base ports + the
   * index (8085/9400, 8086/9401, ...). Default: the config's worker.instance_index (TASKER_INSTANCE_ID), else 0.
   */
  instanceIndex?: number;
  /** Readiness limits of the health servers (event-loop lag, claim-loop stall, database probe). */
  health?: HealthThresholds;
  /** A loaded config (loadConfig({ context: 'worker' })): the defaults of everything above. */
  config?: TaskerConfig;
}

/** WorkerOptions with every default applied. */
export interface ResolvedWorkerOptions {
  namespaces: string[];
  databaseUrl: string;
  concurrency: number;
  binding: BindingName | undefined;
  allowBindingFallback: boolean | undefined;
  workerId: string;
  mode: DeploymentMode | undefined;
  shutdownGraceMs: number;
  handleSignals: boolean;
  runtime: JsRuntime;
  core: WorkerCoreTuning;
  /** The REST server to run; undefined: none. */
  web: ServerListener | undefined;
  /** The gRPC server to run; undefined: none. */
  grpc: ServerListener | undefined;
  health: HealthThresholds;
}

function env(name: string): string | undefined {
  const value = typeof process === 'undefined' ? undefined : process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidConfigError(name, String(value), 'a positive integer');
  }
  return value;
}

/**
 * The worker-core tuning a config gives. Values the config computed (poll interval from the
 * mode, heartbeat from the lease, max batch size and prefetch from the batch size) are left to the core, which
 * computes them by the same rules from what it is finally given: an explicit `mode` option must
 * get PollingOnly's poll interval, not the one the config worked out for its own mode.
 */
export function coreTuningFromConfig(config: TaskerConfig): WorkerCoreTuning {
  const worker = config.worker;
  const chosen = (key: string): boolean => config.sources[key] !== 'default';
  return {
    batchSize: worker.batchSize,
    leaseSeconds: worker.leaseSeconds,
    reportBatchMax: worker.reportBatchMax,
    reportLingerMs: worker.reportLingerMs,
    poolSize: worker.poolSize,
    ...(chosen('worker.max_batch_size') ? { maxBatchSize: worker.maxBatchSize } : {}),
    ...(chosen('worker.prefetch') ? { prefetch: worker.prefetch } : {}),
    ...(chosen('worker.heartbeat_ms') ? { heartbeatMs: worker.heartbeatMs } : {}),
    ...(chosen('worker.poll_interval_ms') ? { pollIntervalMs: worker.pollIntervalMs } : {}),
  };
}

/** The log writer: the option, else the config's, else the default (environment variables). */
export function resolveLogWriter(options: Pick<WorkerOptions, 'logWriter' | 'config'>): LogWriter {
  return options.logWriter ?? (options.config === undefined ? defaultLogWriter : logWriterFromConfig(options.config));
}

/** Applies the defaults; throws InvalidConfigError naming the first bad setting. */
export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  const runtime = detectRuntime();
  const config = options.config?.worker;
  const databaseUrl = options.databaseUrl ?? options.config?.common.database.url ?? env('DATABASE_URL');
  if (databaseUrl === undefined) {
    throw new InvalidConfigError('DATABASE_URL', '', 'a PostgreSQL URL (or pass databaseUrl to the Worker)');
  }
  const namespaces = options.namespaces ?? config?.namespaces ?? [];
  if (namespaces.length === 0) {
    throw new InvalidConfigError('namespaces', '[]', 'at least one namespace (the namespaces option, or worker.namespaces in the config)');
  }
  const shutdownGraceMs = options.shutdownGraceMs ?? config?.shutdownGraceMs ?? 30_000;
  if (!Number.isFinite(shutdownGraceMs) || shutdownGraceMs < SHUTDOWN_GRACE_MS.min || shutdownGraceMs > SHUTDOWN_GRACE_MS.max) {
    throw new InvalidConfigError('shutdownGraceMs', String(shutdownGraceMs), `a duration in ms from ${SHUTDOWN_GRACE_MS.min} to ${SHUTDOWN_GRACE_MS.max}`);
  }
  const instanceIndex = resolveInstanceIndex(options.instanceIndex, config?.instanceIndex);
  return {
    namespaces: [...new Set(namespaces)],
    databaseUrl,
    concurrency: positiveInteger('concurrency', options.concurrency ?? config?.concurrency, 10),
    binding: options.binding ?? config?.binding,
    allowBindingFallback: options.allowBindingFallback ?? (config === undefined ? undefined : config.bindingFallback === 'pg'),
    workerId: options.workerId ?? config?.id ?? `${runtime}-${hostname()}-${typeof process === 'undefined' ? 0 : process.pid}`,
    mode: options.mode ?? config?.deploymentMode,
    shutdownGraceMs,
    handleSignals: options.handleSignals ?? true,
    runtime,
    core: { ...(options.config === undefined ? {} : coreTuningFromConfig(options.config)), ...options.core },
    web: resolveListener(options.web, config?.web, 8085, instanceIndex),
    grpc: resolveListener(options.grpc, config?.grpc, 9400, instanceIndex),
    health: options.health ?? {},
  };
}
