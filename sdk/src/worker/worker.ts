/**
 * The worker runtime: claims steps through a binding's WorkerCore, runs their handlers with at
 * most `concurrency` at once, reports each outcome, and drains on SIGTERM/SIGINT or stop(). The
 * same code runs on Node, Bun and Deno; everything runtime-specific lives in the binding and in
 * shutdown-signals.ts.
 */
import { WorkerCoreClosedError } from '../binding/errors.ts';
import { loadBinding } from '../binding/select.ts';
import { describeValue, failure } from '../handler/failure-report.ts';
import type { BindingName, CoreStats, DrainResult, WorkerCore } from '../binding/types.ts';
import type { TaskerConfig } from '../config/types.ts';
import {
  HandlerRegistry,
  StepCancelledError,
  StepTimeoutError,
  WorkerShutdownError,
  LeaseLapsedError,
  createStepLogger,
  executeStep,
  type LogRecord,
  type LogWriter,
} from '../handler/index.ts';
import type { ClaimedStep, ReportResult, StepReport } from '../protocol/types.ts';
import { serverFields, type ServerAddresses } from '../server/servers.ts';
import { startWorkerHealth, type WorkerHealthHandle } from '../server/worker-health.ts';
import type { StepFinishedEvent } from './events.ts';
import type { WorkerObserver } from './observer.ts';
import { resolveLogWriter, resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './options.ts';
import { maxReportsInFlight } from './report-bound.ts';
import { onShutdownSignal } from './shutdown-signals.ts';

/** How long one next() call waits for work before the loop looks at its state again. */
const CLAIM_WAIT_MS = 1_000;
/** How often the worker asks the core which running steps must stop (lease lost, task cancelled). */
const ABORT_POLL_MS = 200;
/** Time the core gets, beyond the grace period, to commit the reports of steps that just finished. */
const REPORT_SETTLE_MS = 2_000;

/** Where a worker is in its life. */
export type WorkerState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Counters of a worker since it started. */
export interface WorkerStats {
  state: WorkerState;
  workerId: string;
  runtime: string;
  binding: BindingName | null;
  /** Steps whose handlers are running now. */
  running: number;
  /** Steps whose handlers have finished and whose reports the database has not yet answered. */
  reporting: number;
  succeeded: number;
  /** Failures after which the step will run again (attempts left). */
  retried: number;
  /** Failures that ended the step (permanent, or its last attempt). */
  failed: number;
  /** Reports the database refused (lease lost, step already finished elsewhere). */
  rejected: number;
  /** Steps aborted at shutdown and left for redelivery. */
  abandoned: number;
  core: CoreStats | null;
}

/** What stop() did. */
export interface WorkerStopResult {
  /** Steps still running when the grace period ran out; their handlers were aborted. */
  aborted: number;
  /** What the core's drain did. */
  drain: DrainResult | null;
}

interface RunningStep {
  step: ClaimedStep;
  controller: AbortController;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * A worker process's engine. `run()` is what an entry point calls.
 *
 * @example
 * const worker = new Worker({ namespaces: ['shop'], handlers: [chargeCard, ShipOrder] });
 * await worker.run(); // until SIGTERM/SIGINT; running steps drain within the grace period
 */
export class Worker {
  readonly options: ResolvedWorkerOptions;
  private readonly registry: HandlerRegistry;
  private readonly write: LogWriter;
  private readonly onStepFinished: WorkerOptions['onStepFinished'];
  private readonly running = new Map<string, RunningStep>();
  /**
   * Steps whose handlers finished and whose reports are on their way. They hold no handler slot:
   * a slot that waited for its report's commit would leave the handlers idle for a round trip
   * per step and keep each report flush as small as `concurrency`. `maxReporting` bounds how far
   * the handlers may run ahead of the database.
   */
  private readonly reporting = new Set<string>();
  private maxReporting = 0;
  /** Each launched step's execute → report → bookkeeping chain, so stop() can wait for the last. */
  private readonly settling = new Set<Promise<void>>();
  private readonly counters = { succeeded: 0, retried: 0, failed: 0, rejected: 0, abandoned: 0 };
  private state: WorkerState = 'created';
  private core: WorkerCore | undefined;
  private bindingName: BindingName | null = null;
  private claimLoop: Promise<void> = Promise.resolve();
  private abortPoll: ReturnType<typeof setInterval> | undefined;
  private slotFreed: (() => void) | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<WorkerStopResult> | undefined;
  /** The REST and gRPC health servers, when the options or config ask for them. */
  private health: WorkerHealthHandle | undefined;
  private observer: WorkerObserver | undefined;
  private resolveStopped: () => void = () => {};
  private readonly stopped = new Promise<void>((resolve) => {
    this.resolveStopped = resolve;
  });

  constructor(options: WorkerOptions) {
    this.options = resolveWorkerOptions(options);
    this.registry = options.handlers instanceof HandlerRegistry ? options.handlers : new HandlerRegistry(options.handlers);
    this.write = resolveLogWriter(options);
    this.onStepFinished = options.onStepFinished;
  }

  /**
   * A worker set up by a loaded config (concurrency, mode, binding, core tuning, log format and
   * level, namespaces); `options` override single settings.
   *
   * @example
   * const config = await loadConfig({ context: 'worker' });
   * await Worker.fromConfig(config, { handlers: [chargeCard] }).run();
   */
  static fromConfig(config: TaskerConfig, options: Omit<WorkerOptions, 'config'>): Worker {
    return new Worker({ ...options, config });
  }

  /** The id recorded as the actor of this worker's transitions. */
  get workerId(): string {
    return this.options.workerId;
  }

  /** Loads the binding, connects, and starts claiming. Resolves once the worker is running. */
  start(): Promise<void> {
    if (this.state !== 'created') return Promise.reject(new Error(`Worker.start(): the worker is already ${this.state}`));
    this.state = 'starting';
    this.starting = this.connectAndClaim();
    return this.starting;
  }

  private async connectAndClaim(): Promise<void> {
    const { binding, allowBindingFallback, databaseUrl, workerId, namespaces, mode, core } = this.options;
    try {
      const module = await loadBinding(binding, allowBindingFallback === undefined ? {} : { allowFallback: allowBindingFallback });
      const coreConfig = { ...core, databaseUrl, workerId, namespaces, ...(mode === undefined ? {} : { mode }) };
      this.core = await module.createWorkerCore(coreConfig);
      this.maxReporting = maxReportsInFlight(coreConfig);
      this.bindingName = module.name;
      const { web, grpc } = this.options;
      if (web !== undefined || grpc !== undefined) {
        this.health = await startWorkerHealth(this, {
          web,
          grpc,
          thresholds: this.options.health,
          claimWaitMs: CLAIM_WAIT_MS,
          onServerError: (error, what) => this.log('error', `${what} error; it keeps serving`, { error: describe(error) }),
        });
        this.observer = this.health.observer;
      }
    } catch (error) {
      // A server that cannot bind its port ends the start; the connected core must not linger.
      await this.core?.drain(0).catch(() => {});
      this.state = 'stopped';
      this.resolveStopped();
      throw error;
    }
    this.state = 'running';
    this.abortPoll = setInterval(() => this.pollAborts(), ABORT_POLL_MS);
    this.claimLoop = this.runClaimLoop(this.core);
    this.log('info', 'worker started', {
      workerId,
      runtime: this.options.runtime,
      binding: this.bindingName,
      namespaces,
      concurrency: this.options.concurrency,
      mode: mode ?? 'Hybrid',
      handlers: this.registry.names(),
      ...serverFields(this.servers),
    });
  }

  /**
   * Starts the worker and resolves when it has stopped: on SIGTERM or SIGINT (when handleSignals
   * is on) or a stop() call. A second signal aborts running steps at once.
   */
  async run(): Promise<void> {
    // Subscribed before starting: a signal that arrives while the worker connects (or just after
    // it logged "worker started") must drain it, not kill the process with the default action.
    // stop() during start() waits for the start, then drains.
    const unsubscribe = this.options.handleSignals
      ? onShutdownSignal((signal) => {
          if (this.stopping === undefined) {
            const when = this.state === 'created' || this.state === 'starting' ? ' while starting' : '';
            this.log('info', `${signal} received${when}: draining`, { graceMs: this.options.shutdownGraceMs });
            void this.stop();
          } else {
            this.log('warn', `${signal} received again: aborting running steps now`, { running: this.running.size });
            this.logRunning(`step aborted: ${signal} received again; it will run again`);
            this.abortAll();
          }
        })
      : () => {};
    try {
      await this.start();
      await this.stopped;
    } finally {
      unsubscribe();
    }
  }

  /**
   * Stops claiming, waits up to `graceMs` (default shutdownGraceMs) for running steps to finish
   * and their reports to commit, aborts the rest with WorkerShutdownError (they are not reported,
   * so their leases lapse and another worker runs them without losing an attempt), then closes.
   * Safe to call more than once.
   */
  stop(graceMs: number = this.options.shutdownGraceMs): Promise<WorkerStopResult> {
    this.stopping ??= this.runStop(graceMs);
    return this.stopping;
  }

  /** Where the REST and gRPC health servers listen (null: not running), e.g. to learn a port 0 choice. */
  get servers(): ServerAddresses {
    return this.health?.addresses ?? { web: null, grpc: null };
  }

  /** Resolves once the worker has stopped. */
  whenStopped(): Promise<void> {
    return this.stopped;
  }

  /** Counters and the core's counters. */
  stats(): WorkerStats {
    return {
      state: this.state,
      workerId: this.options.workerId,
      runtime: this.options.runtime,
      binding: this.bindingName,
      running: this.running.size,
      reporting: this.reporting.size,
      ...this.counters,
      core: this.core === undefined || this.state === 'stopped' ? null : this.core.stats(),
    };
  }

  private async runStop(graceMs: number): Promise<WorkerStopResult> {
    // A stop() while connecting waits for the connection, so no core is left claiming after it.
    if (this.state === 'starting') await this.starting?.catch(() => {});
    const core = this.core;
    if (core === undefined || this.state === 'stopped') {
      this.state = 'stopped';
      this.resolveStopped();
      return { aborted: 0, drain: null };
    }
    this.state = 'stopping';
    this.wakeClaimLoop();
    let aborted = 0;
    const graceTimer = setTimeout(() => {
      aborted = this.running.size;
      if (aborted > 0) this.log('warn', 'grace period over: aborting running steps', { running: aborted, graceMs });
      this.logRunning('step aborted: grace period over; it will run again');
      this.abortAll();
    }, graceMs);
    let drain: DrainResult | null = null;
    try {
      // drain() makes next() return at once, gives back buffered steps, and waits for the
      // reports of running steps; the claim loop ends on its own.
      drain = await core.drain(graceMs + REPORT_SETTLE_MS);
      await this.claimLoop;
      // The core has settled every report; let their callbacks (counters, onStepFinished) run.
      await Promise.allSettled([...this.settling]);
    } catch (error) {
      this.log('error', 'draining the worker core failed', { error: describe(error) });
    } finally {
      clearTimeout(graceTimer);
      if (this.abortPoll !== undefined) clearInterval(this.abortPoll);
      this.abortAll();
      this.state = 'stopped';
      // After the drain, so probes saw a draining worker as alive but not ready until the end.
      await this.health?.close().catch((error: unknown) => this.log('warn', 'closing the health servers failed', { error: describe(error) }));
      this.log('info', 'worker stopped', { ...this.counters, aborted, released: drain?.released ?? 0 });
      this.resolveStopped();
    }
    return { aborted, drain };
  }

  private async runClaimLoop(core: WorkerCore): Promise<void> {
    while (this.state === 'running') {
      const free = this.reporting.size >= this.maxReporting ? 0 : this.options.concurrency - this.running.size;
      if (free <= 0) {
        this.observer?.waitingForSlot(true);
        await new Promise<void>((resolve) => {
          this.slotFreed = resolve;
        });
        this.observer?.waitingForSlot(false);
        continue;
      }
      let steps: ClaimedStep[];
      const asked = performance.now();
      try {
        steps = await core.next(free, CLAIM_WAIT_MS);
      } catch (error) {
        if (this.state !== 'running') break;
        this.observer?.claimFailed();
        this.log('error', 'claiming steps failed; retrying', { error: describe(error) });
        await sleep(500);
        continue;
      }
      this.observer?.claimRound(performance.now() - asked, steps);
      for (const step of steps) this.launch(core, step);
    }
  }

  private wakeClaimLoop(): void {
    const wake = this.slotFreed;
    this.slotFreed = undefined;
    wake?.();
  }

  private launch(core: WorkerCore, step: ClaimedStep): void {
    const controller = new AbortController();
    const timer =
      step.timeoutMs > 0
        ? setTimeout(() => controller.abort(new StepTimeoutError(step.timeoutMs)), step.timeoutMs)
        : undefined;
    this.running.set(step.stepId, { step, controller, timer });
    const logger = createStepLogger(this.write, {
      taskId: step.taskId,
      stepId: step.stepId,
      stepName: step.stepName,
      correlationId: step.correlationId,
      handler: step.handler,
    });
    const started = performance.now();
    const settled = executeStep(this.registry.get(step.handler), step, {
      signal: controller.signal,
      logger,
      knownHandlers: this.registry.names(),
    })
      .then(async (report) => {
        const durationMs = performance.now() - started;
        this.handlerDone(step.stepId);
        // Abandoned only when this worker aborted it for shutdown or a lapsed lease: a handler
        // throwing its own WorkerShutdownError meanwhile is an ordinary failure, reported.
        const reason: unknown = controller.signal.reason;
        const abandoned =
          (report.error?.['kind'] === 'WorkerShutdown' && reason instanceof WorkerShutdownError) ||
          (report.error?.['kind'] === 'LeaseLapsed' && reason instanceof LeaseLapsedError);
        const result = await this.send(core, step, report, abandoned);
        this.finish(step, report, result, durationMs);
      })
      .catch((error: unknown) => {
        // executeStep never throws; this guards the bookkeeping itself.
        this.log('error', 'step bookkeeping failed', { ...stepIds(step), error: describe(error) });
        this.handlerDone(step.stepId);
        this.reported(step.stepId);
      })
      .finally(() => this.settling.delete(settled));
    this.settling.add(settled);
  }

  private async send(core: WorkerCore, step: ClaimedStep, report: StepReport, abandoned: boolean): Promise<ReportResult | null> {
    if (abandoned) {
      this.counters.abandoned += 1;
      // The core stops extending its lease and the drain stops waiting for its report.
      try {
        core.abandon(step.stepId, step.attempt);
      } catch (error) {
        this.log('warn', 'abandoning a step failed', { ...stepIds(step), error: describe(error) });
      }
      return null;
    }
    try {
      return this.count(report, await core.report(report));
    } catch (error) {
      this.log('error', 'reporting a step failed', { ...stepIds(step), error: describe(error) });
      if (error instanceof WorkerCoreClosedError) return null;
      return this.sendRefused(core, step, report, error);
    }
  }

  /**
   * The core refused a report before it reached the database (a report it cannot take): the step
   * would stay in flight, its lease extended for ever. It fails permanently, saying why; if even
   * that is refused, it is let go, and its lease lapses so it is delivered again.
   */
  private async sendRefused(core: WorkerCore, step: ClaimedStep, report: StepReport, refusal: unknown): Promise<ReportResult | null> {
    const fallback: StepReport = {
      stepId: report.stepId,
      attempt: report.attempt,
      delivery: report.delivery,
      ...failure('permanent_failure', 'ReportRefused', `the worker core refused the step's report: ${describe(refusal)}`),
    };
    try {
      return this.count(fallback, await core.report(fallback));
    } catch (error) {
      this.log('error', 'reporting a refused report as a failure failed too; the step is let go', { ...stepIds(step), error: describe(error) });
      try {
        core.abandon(step.stepId, step.attempt);
      } catch {
        // A closed core holds nothing any more.
      }
      return null;
    }
  }

  /** Counts a report by what the database made of it: a retryable failure on the last attempt is a failure. */
  private count(report: StepReport, result: ReportResult): ReportResult {
    if (!result.accepted) this.counters.rejected += 1;
    else if (report.outcome === 'success') this.counters.succeeded += 1;
    else if (result.stepState === 'waiting_for_retry') this.counters.retried += 1;
    else this.counters.failed += 1;
    return result;
  }

  private finish(step: ClaimedStep, report: StepReport, result: ReportResult | null, durationMs: number): void {
    this.reported(step.stepId);
    this.observer?.stepSettled(step, report, result, durationMs);
    if (this.onStepFinished === undefined) return;
    const event: StepFinishedEvent = {
      step,
      report,
      result,
      durationMs,
      workerId: this.options.workerId,
      runtime: this.options.runtime,
    };
    try {
      this.onStepFinished(event);
    } catch (error) {
      this.log('error', 'onStepFinished threw', { ...stepIds(step), error: describe(error) });
    }
  }

  /** The handler has settled: its slot is free, its report on the way. */
  private handlerDone(stepId: string): void {
    const entry = this.running.get(stepId);
    if (entry?.timer !== undefined) clearTimeout(entry.timer);
    this.running.delete(stepId);
    this.reporting.add(stepId);
    this.wakeClaimLoop();
  }

  /** The report has settled (or was skipped): the step is off this worker's hands. */
  private reported(stepId: string): void {
    this.reporting.delete(stepId);
    this.wakeClaimLoop();
  }

  /** Stops the handlers the core names: those the heartbeat told to stop, and those whose lease lapsed. */
  private pollAborts(): void {
    const core = this.core;
    if (core === undefined || this.state === 'stopped') return;
    this.abortNamed(
      () => core.takeAborted(),
      () => new StepCancelledError('the task is no longer running or the lease was lost'),
    );
    this.abortNamed(
      () => core.takeLapsed(),
      () => new LeaseLapsedError(),
      "step aborted: its lease lapsed (no heartbeat reached the database); it will run again",
    );
  }

  /** Aborts each running step `take()` names with `reason()`, logging `warning` per step when given. */
  private abortNamed(take: () => string[], reason: () => Error, warning?: string): void {
    let ids: string[];
    try {
      ids = take();
    } catch {
      return; // a closed core names nothing
    }
    for (const id of ids) {
      const entry = this.running.get(id);
      if (entry === undefined || entry.controller.signal.aborted) continue;
      if (warning !== undefined) this.log('warn', warning, stepIds(entry.step));
      entry.controller.abort(reason());
    }
  }

  /** One line per running step, so each step's own lines show why it stopped. */
  private logRunning(message: string): void {
    for (const { step } of this.running.values()) this.log('warn', message, stepIds(step));
  }

  private abortAll(): void {
    for (const { controller } of this.running.values()) {
      if (!controller.signal.aborted) controller.abort(new WorkerShutdownError());
    }
  }

  private log(level: LogRecord['level'], message: string, fields: Record<string, unknown>): void {
    this.write({ level, message, time: new Date().toISOString(), fields: { workerId: this.options.workerId, ...fields } });
  }
}

/** The ids every line about a step carries, the same ones its handler's StepLogger adds. */
function stepIds(step: ClaimedStep): Record<string, string> {
  return { taskId: step.taskId, stepId: step.stepId, stepName: step.stepName, correlationId: step.correlationId, handler: step.handler };
}

/** Never throws, whatever was thrown (a value whose getters throw itself, say). */
function describe(error: unknown): string {
  return describeValue(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
