/**
 * The pure-TypeScript worker core: wires the step book, one claim loop per namespace, the LISTEN
 * connection, the heartbeat and the report flusher around one pg.Pool, and implements WorkerCore
 * on top of them (docs/bindings.md).
 */
import pg from 'pg';
import { redactDatabaseUrl, redactPasswordIn } from '../../db/database-url.ts';
import { releaseLeases } from '../../protocol/leases.ts';
import type { ClaimedStep, ReportResult, StepReport } from '../../protocol/types.ts';
import { DatabaseConnectionError } from '../../errors.ts';
import { InvalidWorkerCoreArgumentError, WorkerCoreSchemaMissingError } from '../errors.ts';
import type { CoreStats, DrainResult, WorkerCore, WorkerCoreConfig } from '../types.ts';
import { ClaimLoop } from './claim-loop.ts';
import { resolveCoreConfig, type ResolvedCoreConfig } from './config.ts';
import { Connectivity } from './connectivity.ts';
import { isConnectionLoss } from './failures.ts';
import { Heartbeat } from './heartbeat.ts';
import { QueueListener } from './listener.ts';
import { consoleCoreLog, describe, type CoreLog } from './log.ts';
import { ReportFlusher } from './report-flusher.ts';
import { Stopper, Wakeup, unlessStopped, untilDeadline } from './signals.ts';
import { newCounters, type CoreCounters } from './stats.ts';
import { StepBook } from './step-book.ts';
import { checkAbandonArguments, drainTimeoutMs } from '../wire.ts';

/** How long closing waits for the pool's connections to end. */
const CLOSE_GRACE_MS = 2_000;

/** Opens the connections, starts the loops and returns the running core. */
export async function createPgWorkerCore(config: WorkerCoreConfig): Promise<WorkerCore> {
  const resolved = resolveCoreConfig(config);
  const applicationName = `tasker:${resolved.workerId}`.slice(0, 63);
  const pool = new pg.Pool({
    connectionString: resolved.databaseUrl,
    max: resolved.poolSize,
    application_name: applicationName,
    connectionTimeoutMillis: 5_000,
    keepAlive: true,
    // A server that went silent (network cut) must not hang a round trip for ever.
    query_timeout: Math.max(60_000, resolved.leaseSeconds * 1000),
  });
  const core = new PgWorkerCore(resolved, pool, applicationName, consoleCoreLog(resolved.workerId));
  try {
    await core.open();
  } catch (error) {
    await core.drain(0).catch(() => {});
    if (error instanceof WorkerCoreSchemaMissingError) throw error;
    const url = resolved.databaseUrl;
    throw new DatabaseConnectionError(
      `Worker core cannot reach ${redactDatabaseUrl(url)}: ${redactPasswordIn(describe(error), url)}`,
      { cause: error },
    );
  }
  return core;
}

class PgWorkerCore implements WorkerCore {
  readonly binding = 'pg' as const;
  private readonly counters: CoreCounters = newCounters();
  private readonly stopClaiming = new Stopper();
  private readonly closed = new Stopper();
  /** Rung whenever a step leaves flight, for drain. */
  private readonly settled = new Wakeup();
  private readonly book: StepBook;
  private readonly connectivity: Connectivity;
  private readonly listener: QueueListener | undefined;
  private readonly flusher: ReportFlusher;
  private loops: ClaimLoop[] = [];
  private heartbeat: Heartbeat | undefined;
  private draining: Promise<DrainResult> | undefined;

  constructor(
    private readonly config: ResolvedCoreConfig,
    private readonly pool: pg.Pool,
    applicationName: string,
    private readonly log: CoreLog,
  ) {
    this.book = new StepBook(config.prefetch, config.batchSize, config.maxBatchSize, config.leaseSeconds * 1000, {
      onSpace: () => {
        for (const loop of this.loops) loop.spaceFreed();
      },
      onSettled: () => this.settled.notify(),
    });
    this.connectivity = new Connectivity({
      probe: () => this.probe(),
      onRecovered: () => this.wakeAll(),
      onReconnect: () => {
        this.counters.reconnects += 1;
      },
      log,
      closed: this.closed,
    });
    this.listener =
      config.mode === 'PollingOnly'
        ? undefined
        : new QueueListener({
            databaseUrl: config.databaseUrl,
            namespaces: config.namespaces,
            applicationName,
            onWork: (namespace) => this.wake(namespace),
            onLost: (error) => this.connectivity.markLost(error),
          });
    this.flusher = new ReportFlusher({
      pool,
      config,
      book: this.book,
      counters: this.counters,
      connectivity: this.connectivity,
      closed: this.closed,
      stopClaiming: this.stopClaiming,
      log,
      onEnqueued: (namespace) => (namespace === undefined ? this.wakeAll() : this.wake(namespace)),
    });
    // An idle pooled connection dropped by the server: the database may be gone.
    pool.on('error', (error) => this.connectivity.markLost(error));
  }

  /** Checks the database, subscribes, and starts claiming and heartbeating. */
  async open(): Promise<void> {
    // The native core's check at create (native/src/db.rs): a database without the protocol
    // fails here, once, rather than in every claim loop for ever.
    const { rows } = await this.pool.query<{ installed: boolean }>(
      "SELECT to_regproc('tasker.claim_steps') IS NOT NULL AND to_regproc('tasker.release_leases') IS NOT NULL AND to_regproc('tasker.report_and_claim') IS NOT NULL AS installed",
    );
    if (rows[0]?.installed !== true) throw new WorkerCoreSchemaMissingError();
    await this.listener?.ensureConnected();
    const deps = {
      pool: this.pool,
      config: this.config,
      book: this.book,
      counters: this.counters,
      connectivity: this.connectivity,
      log: this.log,
    };
    this.loops = this.config.namespaces.map((namespace) => new ClaimLoop(namespace, { ...deps, stopClaiming: this.stopClaiming }));
    this.heartbeat = new Heartbeat({ ...deps, closed: this.closed });
  }

  next(max: number, timeoutMs: number): Promise<ClaimedStep[]> {
    if (!Number.isInteger(max) || max < 1) {
      return Promise.reject(new InvalidWorkerCoreArgumentError(`next(max): max must be a positive integer, got ${max}`));
    }
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(new InvalidWorkerCoreArgumentError(`next(timeoutMs): must be 0 or more, got ${timeoutMs}`));
    }
    return this.book.next(max, timeoutMs);
  }

  report(report: StepReport): Promise<ReportResult> {
    return this.flusher.submit(report);
  }

  takeAborted(): string[] {
    return this.book.takeAborted();
  }

  takeLapsed(): string[] {
    return this.book.takeLapsed();
  }

  abandon(stepId: string, attempt: number): boolean {
    checkAbandonArguments(stepId, attempt);
    if (this.closed.stopped) return false;
    return this.book.abandon(stepId, attempt);
  }

  stats(): CoreStats {
    return {
      binding: 'pg',
      ...this.counters,
      buffered: this.book.bufferedCount,
      inFlight: this.book.inFlightCount,
      claimSize: this.book.batch,
    };
  }

  drain(timeoutMs: number): Promise<DrainResult> {
    this.draining ??= this.runDrain(drainTimeoutMs(timeoutMs));
    return this.draining;
  }

  private async runDrain(timeoutMs: number): Promise<DrainResult> {
    const deadline = Date.now() + timeoutMs;
    // Giving claimed steps back is not cut short by a short drain (drain(0) after a failed
    // start): like the native core, it has at least CLOSE_GRACE_MS, or they would sit leased to
    // nobody until their leases expire.
    const givingBack = Math.max(deadline, Date.now() + CLOSE_GRACE_MS);
    this.stopClaiming.stop();
    this.book.closeForNext();
    await untilDeadline(this.listener?.close() ?? Promise.resolve(), Date.now() + CLOSE_GRACE_MS);
    // A claim under way still lands its steps in the book; wait for it so they are given back too.
    await untilDeadline(Promise.all(this.loops.map((loop) => loop.done)), givingBack);
    const released = await this.releaseBuffered(givingBack);
    while (this.book.inFlightCount > 0 && Date.now() < deadline) {
      await this.settled.wait(Math.max(1, deadline - Date.now()));
    }
    await untilDeadline(this.flusher.whenIdle(), deadline);
    // A report committed while draining may have claimed steps with it after the buffer was
    // given back (report-flusher.ts): give those back too.
    const releasedLate = await this.releaseBuffered(givingBack);
    const abandoned = this.book.inFlightCount;
    await this.close();
    return { abandoned, released: released + releasedLate };
  }

  /** Gives buffered steps back with release_leases, retrying lost connections until the deadline. */
  private async releaseBuffered(deadline: number): Promise<number> {
    const leases = this.book.takeAllBuffered().map((entry) => ({
      stepId: entry.stepId,
      attempt: entry.attempt,
      delivery: entry.delivery,
    }));
    if (leases.length === 0) return 0;
    const timeUp = new Stopper();
    const timer = setTimeout(() => timeUp.stop(), Math.max(0, deadline - Date.now()));
    try {
      while (!timeUp.stopped) {
        if (!this.connectivity.isUp) {
          await unlessStopped(this.connectivity.whenUp(), timeUp);
          continue;
        }
        const epoch = this.connectivity.epoch;
        // Raced against the deadline: a database that stopped answering would hold the call
        // until the pool's query timeout (a minute or more).
        let outcome: { results: Awaited<ReturnType<typeof releaseLeases>> } | { error: unknown } | undefined;
        const attempt = releaseLeases(this.pool, leases, this.config.workerId).then(
          (results) => (outcome = { results }),
          (error: unknown) => (outcome = { error }),
        );
        await unlessStopped(attempt, timeUp);
        if (outcome === undefined) break;
        if ('results' in outcome) {
          const released = outcome.results.filter((result) => result.released).length;
          this.counters.released += released;
          return released;
        }
        if (!isConnectionLoss(outcome.error)) {
          this.log.warn('drain', `giving back ${leases.length} buffered steps failed: ${describe(outcome.error)}; their leases will expire`);
          return 0;
        }
        this.connectivity.markLost(outcome.error, epoch);
      }
      this.log.warn('drain', `giving back ${leases.length} buffered steps did not finish in time; their leases will expire`);
      return 0;
    } finally {
      clearTimeout(timer);
    }
  }

  private async close(): Promise<void> {
    this.stopClaiming.stop();
    this.closed.stop();
    this.book.closeForNext();
    this.flusher.close();
    await this.listener?.close();
    if (this.heartbeat !== undefined) await untilDeadline(this.heartbeat.done, Date.now() + CLOSE_GRACE_MS);
    await untilDeadline(this.pool.end(), Date.now() + CLOSE_GRACE_MS);
  }

  /** Recovery succeeds when the pool and (if used) the LISTEN connection work again. */
  private async probe(): Promise<void> {
    await this.pool.query('SELECT 1');
    if (!this.stopClaiming.stopped) await this.listener?.ensureConnected();
  }

  private wake(namespace: string): void {
    for (const loop of this.loops) if (loop.namespace === namespace) loop.wake();
  }

  private wakeAll(): void {
    for (const loop of this.loops) loop.wake();
  }
}
