/**
 * The orchestration service: applies the migrations as DEPLOYMENT_MODE says, registers the task
 * templates found in a directory, and sweeps (expired leases, task deadlines) when they fall due
 * or on an interval, as orchestration.deployment_mode says (sweep-scheduler.ts).
 * Cancellation and retries are protocol calls any client makes; the orchestrator owns what must
 * happen when nobody asks. Runs on Node, Bun and Deno.
 */
import { hostname } from 'node:os';
import pg from 'pg';
import { logWriterFromConfig } from '../config/log.ts';
import { SWEEP_INTERVAL_MS } from '../config/schema.ts';
import type { EventMode, TaskerConfig } from '../config/types.ts';
import { runMigrations } from '../db/migration-runner.ts';
import type { DeploymentMode } from '../db/migration-settings.ts';
import { InvalidConfigError } from '../errors.ts';
import { defaultLogWriter, type LogRecord, type LogWriter } from '../handler/index.ts';
import { registerTemplate } from '../protocol/templates.ts';
import type { RegisteredTemplate } from '../protocol/types.ts';
import { resolveInstanceIndex, resolveListener, type HealthThresholds, type ListenerOption, type ServerListener } from '../server/listener-settings.ts';
import { startOrchestrationHealth, type OrchestrationHealthHandle } from '../server/orchestration-health.ts';
import { serverFields, type ServerAddresses } from '../server/servers.ts';
import { loadTemplateDir } from '../template/index.ts';
import { onShutdownSignal } from '../worker/shutdown-signals.ts';
import { correlationIds } from './correlation-ids.ts';
import { readDueTimes } from './due-times.ts';
import { SweepScheduler } from './sweep-scheduler.ts';
import { SweepPassError, sweepOnce, type SweepResult } from './sweeper.ts';

/**
 * Settings of an Orchestrator. Everything has a default: an option, else the loaded `config`'s
 * orchestration section, else the environment and built-in defaults.
 */
export interface OrchestratorOptions {
  /** Default: the DATABASE_URL environment variable. */
  databaseUrl?: string;
  /** Directories of YAML task templates to register at start. */
  templateDirs?: readonly string[];
  /** standard (migrate, then serve), migrate-only (migrate, then stop) or no-migrate. Default: DEPLOYMENT_MODE, else standard. */
  deploymentMode?: DeploymentMode;
  /**
   * When the sweeps run. Hybrid (default): when something falls due, learned from the database and
   * its notifications, and at least every sweepIntervalMs; EventDrivenOnly: only when something
   * falls due; PollingOnly: every sweepIntervalMs. Default: the config's orchestration.deployment_mode.
   */
  mode?: EventMode;
  /** PollingOnly's interval, and Hybrid's safety net. Default 1,000 ms. */
  sweepIntervalMs?: number;
  /** Recorded as the actor of the sweeps' transitions. Default `orchestrator-<runtime host pid>`. */
  instanceId?: string;
  /** run() stops on SIGTERM and SIGINT. Default true. */
  handleSignals?: boolean;
  /** Where log records go. */
  logWriter?: LogWriter;
  /** Called after each sweep pass that did something. */
  onSweep?: (result: SweepResult) => void;
  /**
   * The REST server (/health, /health/ready, /health/detailed, /metrics): `{ host?, port? }` (port
   * 0: any free port) or false. Default: the config's orchestration.web (on, port 8080); none without a config.
   */
  web?: ListenerOption;
  /** The gRPC server (TaskService, health, grpc.health.v1), like `web`. Default: the config's orchestration.grpc (port 9190). */
  grpc?: ListenerOption;
  /**
   * Which instance of a cluster this orchestrator is (0–9): its servers listen on the base ports +
   * the index (8080/9190, 8081/9191, ...). Default: the config's orchestration.instance_index
   * (TASKER_INSTANCE_ID), else 0.
   */
  instanceIndex?: number;
  /** Readiness limits of the health servers (event-loop lag, database probe). */
  health?: HealthThresholds;
  /**
   * A loaded config (loadConfig({ context: 'orchestration' })): database URL, migration mode,
   * timeout and retries, deployment mode, sweep interval, log format and level, servers.
   */
  config?: TaskerConfig;
}

/** What start() did. */
export interface OrchestratorStartResult {
  /** Migration files applied by this start. */
  applied: string[];
  templates: RegisteredTemplate[];
  /** False in migrate-only mode: the orchestrator migrated and has nothing more to do. */
  serving: boolean;
}

/** Counters since start. */
export interface OrchestratorStats {
  sweeps: number;
  deadLettered: number;
  cancelledSteps: number;
  timedOutTasks: number;
  sweepErrors: number;
  /** Scheduled sweep passes that failed since the last one that succeeded. */
  consecutiveSweepErrors: number;
}

/**
 * The orchestration service: migrates, registers the templates, and sweeps expired leases and task deadlines.
 * @example
 * const orchestrator = new Orchestrator({ templateDirs: ['./templates'] });
 * await orchestrator.run(); // until SIGTERM/SIGINT
 */
export class Orchestrator {
  readonly instanceId: string;
  private readonly databaseUrl: string;
  private readonly write: LogWriter;
  private readonly sweepIntervalMs: number;
  private readonly mode: EventMode;
  private readonly instanceIndex: number;
  private readonly listeners: { web: ServerListener | undefined; grpc: ServerListener | undefined };
  private pool: pg.Pool | undefined;
  private scheduler: SweepScheduler | undefined;
  private stopped = false;
  private starting: Promise<OrchestratorStartResult> | undefined;
  /** True from the end of start() (migrated, templates registered, sweeping) until stop(). */
  private serving = false;
  private health: OrchestrationHealthHandle | undefined;
  private resolveStopped: () => void = () => {};
  private readonly whenStopped = new Promise<void>((resolve) => {
    this.resolveStopped = resolve;
  });
  private readonly counters: OrchestratorStats = { sweeps: 0, deadLettered: 0, cancelledSteps: 0, timedOutTasks: 0, sweepErrors: 0, consecutiveSweepErrors: 0 };
  private lastSweepFailure: string | undefined;

  constructor(private readonly options: OrchestratorOptions = {}) {
    const config = options.config;
    const databaseUrl =
      options.databaseUrl ?? config?.common.database.url ?? (typeof process === 'undefined' ? undefined : process.env.DATABASE_URL);
    if (databaseUrl === undefined || databaseUrl === '') {
      throw new InvalidConfigError('DATABASE_URL', '', 'a PostgreSQL URL (or pass databaseUrl to the Orchestrator)');
    }
    this.databaseUrl = databaseUrl;
    this.sweepIntervalMs = options.sweepIntervalMs ?? config?.orchestration.sweepIntervalMs ?? 1_000;
    // Bounded like the config's setting: beyond setTimeout's limit the scheduler would sweep every millisecond.
    if (!Number.isFinite(this.sweepIntervalMs) || this.sweepIntervalMs < SWEEP_INTERVAL_MS.min || this.sweepIntervalMs > SWEEP_INTERVAL_MS.max) {
      throw new InvalidConfigError('sweepIntervalMs', String(this.sweepIntervalMs), `from ${SWEEP_INTERVAL_MS.min} to ${SWEEP_INTERVAL_MS.max} ms`);
    }
    this.mode = options.mode ?? config?.orchestration.deploymentMode ?? 'Hybrid';
    this.instanceIndex = resolveInstanceIndex(options.instanceIndex, config?.orchestration.instanceIndex);
    // Resolved here, like the Worker's: a bad port is refused before anything is migrated or opened.
    this.listeners = {
      web: resolveListener(options.web, config?.orchestration.web, 8080, this.instanceIndex),
      grpc: resolveListener(options.grpc, config?.orchestration.grpc, 9190, this.instanceIndex),
    };
    this.instanceId = options.instanceId ?? `orchestrator-${hostname()}-${typeof process === 'undefined' ? 0 : process.pid}`;
    this.write = options.logWriter ?? (config === undefined ? defaultLogWriter : logWriterFromConfig(config));
  }

  /**
   * An orchestrator set up by a loaded config; `options` override single settings.
   *
   * @example
   * const config = await loadConfig({ context: 'orchestration' });
   * await Orchestrator.fromConfig(config, { templateDirs: ['./templates'] }).run();
   */
  static fromConfig(config: TaskerConfig, options: Omit<OrchestratorOptions, 'config'> = {}): Orchestrator {
    return new Orchestrator({ ...options, config });
  }

  /** Migrates (per deployment mode), registers the templates, and starts sweeping. */
  start(): Promise<OrchestratorStartResult> {
    if (this.stopped) return Promise.reject(new Error('Orchestrator.start(): the orchestrator is stopped'));
    if (this.starting !== undefined) return Promise.reject(new Error('Orchestrator.start(): already started'));
    this.starting = this.migrateRegisterAndServe();
    return this.starting;
  }

  private async migrateRegisterAndServe(): Promise<OrchestratorStartResult> {
    const migrations = this.options.config?.orchestration.migrations;
    const mode = this.options.deploymentMode ?? migrations?.mode;
    const migration = await runMigrations({
      databaseUrl: this.databaseUrl,
      ...(mode === undefined ? {} : { mode }),
      ...(migrations === undefined ? {} : { timeoutSeconds: migrations.timeoutSeconds, retries: migrations.retries }),
      log: (line) => this.log(line.startsWith('[ERROR]') ? 'error' : 'info', line.replace(/^\[[A-Z]+\] /, ''), {}),
    });
    if (!migration.continueRunning) {
      this.stopped = true;
      this.resolveStopped();
      return { applied: migration.applied, templates: [], serving: false };
    }
    this.pool = new pg.Pool({ connectionString: this.databaseUrl, max: 2, application_name: 'tasker-orchestrator' });
    this.pool.on('error', () => {});
    const templates: RegisteredTemplate[] = [];
    try {
      for (const dir of this.options.templateDirs ?? []) {
        for (const { file, template } of await loadTemplateDir(dir)) {
          const registered = await registerTemplate(this.pool, template);
          templates.push(registered);
          this.log('info', registered.changed ? 'template registered' : 'template unchanged', {
            template: `${registered.namespace}/${registered.name}@${registered.version}`,
            file,
          });
        }
      }
    } catch (error) {
      // A refused template ends the start; nothing may keep the process alive afterwards.
      await this.pool.end().catch(() => {});
      this.pool = undefined;
      this.stopped = true;
      this.resolveStopped();
      throw error;
    }
    await this.startServers();
    this.serving = true;
    await this.startSweeping(this.pool);
    this.log('info', 'orchestrator started', {
      instanceId: this.instanceId,
      deploymentMode: this.mode,
      sweepIntervalMs: this.sweepIntervalMs,
      templates: templates.length,
      ...(this.options.config === undefined ? {} : { environment: this.options.config.environment }),
      ...serverFields(this.servers),
    });
    return { applied: migration.applied, templates, serving: true };
  }

  /**
   * Starts, then resolves when stopped (SIGTERM/SIGINT when handleSignals, or stop()). A signal
   * during the start (a migration waiting for another runner's lock, say) stops the orchestrator
   * once the start has finished, instead of killing the process half-way.
   */
  async run(): Promise<OrchestratorStartResult> {
    const unsubscribe =
      this.options.handleSignals ?? true
        ? onShutdownSignal((signal) => {
            this.log('info', `${signal} received: stopping`, {});
            void this.stop();
          })
        : () => {};
    try {
      const started = await this.start();
      if (started.serving) await this.whenStopped;
      return started;
    } finally {
      unsubscribe();
    }
  }

  /** Finishes the sweep in progress and closes the connections. Safe to call more than once. */
  async stop(): Promise<void> {
    // A stop() while starting waits for the start, so nothing it opens outlives the stop.
    await this.starting?.catch(() => {});
    if (this.stopped) return this.whenStopped;
    this.stopped = true;
    await this.health?.close().catch(() => {});
    await this.scheduler?.stop();
    await this.pool?.end().catch(() => {});
    this.log('info', 'orchestrator stopped', { ...this.counters });
    this.resolveStopped();
  }

  /** Runs one sweep pass now (also what the scheduler does). */
  async sweep(): Promise<SweepResult> {
    if (this.pool === undefined) throw new Error('Orchestrator.sweep(): start() the orchestrator first');
    const pool = this.pool;
    let result: SweepResult;
    try {
      result = await sweepOnce(pool, this.instanceId);
    } catch (error) {
      // What the pass did before its failing call is committed: count and log it all the same.
      if (error instanceof SweepPassError) await this.record(pool, error.done);
      throw error;
    }
    this.counters.sweeps += 1;
    this.counters.consecutiveSweepErrors = 0;
    await this.record(pool, result);
    return result;
  }

  /** Counts and logs what a sweep pass did, and tells onSweep. */
  private async record(pool: pg.Pool, result: SweepResult): Promise<void> {
    if (result.leases.length + result.timeouts.length === 0) return;
    const correlation = await correlationIds(pool, [...result.leases, ...result.timeouts].map((item) => item.taskId));
    const ids = (taskId: string): Record<string, string> => {
      const correlationId = correlation.get(taskId);
      return correlationId === undefined ? { taskId } : { taskId, correlationId };
    };
    for (const action of result.leases) {
      if (action.action === 'dead_lettered') this.counters.deadLettered += 1;
      else this.counters.cancelledSteps += 1;
      this.log('warn', `step ${action.action.replace('_', '-')}`, { ...ids(action.taskId), stepId: action.stepId, reason: action.reason });
    }
    for (const timedOut of result.timeouts) {
      this.counters.timedOutTasks += 1;
      this.log('warn', 'task timed out', { ...ids(timedOut.taskId), reason: timedOut.reason });
    }
    this.options.onSweep?.(result);
  }

  /** Counters since start. */
  stats(): OrchestratorStats {
    return { ...this.counters };
  }

  /** Why the last scheduled sweep pass failed (undefined when none has). */
  lastSweepError(): string | undefined {
    return this.lastSweepFailure;
  }

  /** Where the REST and gRPC servers listen (null: not running), e.g. to learn a port 0 choice. */
  get servers(): ServerAddresses {
    return this.health?.addresses ?? { web: null, grpc: null };
  }

  /** starting (until start() finished), running, or stopped. */
  state(): 'starting' | 'running' | 'stopped' {
    return this.stopped ? 'stopped' : this.serving ? 'running' : 'starting';
  }

  /** The REST and gRPC servers the options or config ask for; a port that cannot be bound ends the start. */
  private async startServers(): Promise<void> {
    const { web, grpc } = this.listeners;
    if (web === undefined && grpc === undefined) return;
    try {
      this.health = await startOrchestrationHealth(this, {
        databaseUrl: this.databaseUrl,
        web,
        grpc,
        thresholds: this.options.health ?? {},
        onServerError: (error, what) => this.log('error', `${what} error; it keeps serving`, { error: error.message }),
      });
    } catch (error) {
      await this.pool?.end().catch(() => {});
      this.pool = undefined;
      this.stopped = true;
      this.resolveStopped();
      throw error;
    }
  }

  private async startSweeping(pool: pg.Pool): Promise<void> {
    const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
    this.scheduler = new SweepScheduler({
      mode: this.mode,
      intervalMs: this.sweepIntervalMs,
      databaseUrl: this.databaseUrl,
      sweep: () => this.sweep(),
      readDue: () => readDueTimes(pool),
      onError: (error) => {
        this.counters.sweepErrors += 1;
        this.counters.consecutiveSweepErrors += 1;
        this.lastSweepFailure = message(error);
        this.log('error', 'sweep failed; will try again', { error: message(error) });
      },
      onListenerLost: (error) => {
        if (!this.stopped) this.log('warn', 'LISTEN connection lost; reconnecting', { error: message(error) });
      },
    });
    await this.scheduler.start();
  }

  private log(level: LogRecord['level'], message: string, fields: Record<string, unknown>): void {
    this.write({ level, message, time: new Date().toISOString(), fields: { component: 'orchestrator', ...fields } });
  }
}
