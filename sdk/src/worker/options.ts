/**
 * What a Worker is told, and the defaults it fills in. Everything a user may leave out has a
 * default a newcomer can guess: DATABASE_URL, TASKER_BINDING (napi), 10 steps at once, a 30 s
 * shutdown grace period, a worker id naming the runtime, host and process.
 */
import { hostname } from 'node:os';
import type { BindingName, DeploymentMode, WorkerCoreConfig } from '../binding/types.ts';
import { detectRuntime, type JsRuntime } from '../binding/ffi/load.ts';
import { InvalidConfigError } from '../errors.ts';
import type { HandlerInput, HandlerRegistry, LogWriter } from '../handler/index.ts';
import type { StepFinishedEvent } from './events.ts';

/** Tuning of the worker core that a Worker passes through unchanged. */
export type WorkerCoreTuning = Omit<Partial<WorkerCoreConfig>, 'databaseUrl' | 'workerId' | 'namespaces' | 'mode'>;

/** Settings of a Worker. Only `namespaces` and `handlers` are required. */
export interface WorkerOptions {
  /** Namespaces whose queues this worker serves. */
  namespaces: readonly string[];
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
  /** Worker-core tuning (prefetch, batch sizes, lease length, pool size...). */
  core?: WorkerCoreTuning;
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

/** Applies the defaults; throws InvalidConfigError naming the first bad setting. */
export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  const runtime = detectRuntime();
  const databaseUrl = options.databaseUrl ?? env('DATABASE_URL');
  if (databaseUrl === undefined) {
    throw new InvalidConfigError('DATABASE_URL', '', 'a PostgreSQL URL (or pass databaseUrl to the Worker)');
  }
  if (options.namespaces.length === 0) {
    throw new InvalidConfigError('namespaces', '[]', 'at least one namespace');
  }
  const shutdownGraceMs = options.shutdownGraceMs ?? 30_000;
  if (!Number.isFinite(shutdownGraceMs) || shutdownGraceMs < 0) {
    throw new InvalidConfigError('shutdownGraceMs', String(shutdownGraceMs), 'a duration in ms, 0 or more');
  }
  return {
    namespaces: [...new Set(options.namespaces)],
    databaseUrl,
    concurrency: positiveInteger('concurrency', options.concurrency, 10),
    binding: options.binding,
    allowBindingFallback: options.allowBindingFallback,
    workerId: options.workerId ?? `${runtime}-${hostname()}-${typeof process === 'undefined' ? 0 : process.pid}`,
    mode: options.mode,
    shutdownGraceMs,
    handleSignals: options.handleSignals ?? true,
    runtime,
    core: options.core ?? {},
  };
}
