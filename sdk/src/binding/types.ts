/**
 * The binding contract: what a worker's hot path (claim → hand to a handler → report) needs
 * from a binding. Three implementations exist behind it, selected with TASKER_BINDING:
 * `napi` (the Rust core as a napi-rs addon), `ffi` (the same core through its C ABI: koffi on
 * Node, bun:ffi on Bun, Deno.dlopen on Deno) and `pg` (pure TypeScript over `pg`, the reference
 * implementation and the fallback). All three call the SQL protocol in migrations/; none
 * re-implements it. docs/bindings.md describes the semantics every implementation must keep.
 */
import type { ClaimedStep, ReportResult, StepReport } from '../protocol/types.ts';

/** The bindings a worker can run on. */
export type BindingName = 'napi' | 'ffi' | 'pg';

/** How a worker learns that work is waiting (seed terms). */
export type DeploymentMode = 'Hybrid' | 'EventDrivenOnly' | 'PollingOnly';

/** Settings of a worker core. Every field but databaseUrl, workerId and namespaces has a default. */
export interface WorkerCoreConfig {
  databaseUrl: string;
  /** Recorded as the actor of every transition this worker causes (trimmed; not blank). */
  workerId: string;
  /** Namespaces to claim from; each has its own claim loop. */
  namespaces: string[];
  /** Hybrid (LISTEN plus a polling safety net, default), EventDrivenOnly or PollingOnly. */
  mode?: DeploymentMode;
  /**
   * Most claimed steps kept ready for next() beyond those in flight, per core. The buffer holds
   * two claims' worth (2 × the current claim size), at most this. Default 2 × maxBatchSize; at
   * most 10,000,000.
   */
  prefetch?: number;
  /** Messages a claim round trip reads at first, and the least it shrinks back to. Default 10. */
  batchSize?: number;
  /**
   * Most messages a claim round trip grows to while handlers empty the buffer faster than claims
   * fill it (docs/bindings.md, "Claim size"); equal to batchSize, claims keep one size.
   * Default max(batchSize, 100).
   */
  maxBatchSize?: number;
  /** Lease (visibility timeout) given at claim, in seconds. Default 30. */
  leaseSeconds?: number;
  /** How often the leases of claimed steps are extended, in ms (at most a day). Default leaseSeconds × 1000 / 3. */
  heartbeatMs?: number;
  /** Polling interval of Hybrid (safety net) and PollingOnly, in ms (at most a day). Default 1000 (Hybrid) / 100 (PollingOnly). */
  pollIntervalMs?: number;
  /** Most reports committed in one round trip (at most 1,000,000). Default 100. */
  reportBatchMax?: number;
  /**
   * How long a report may wait for others to share its round trip, in ms. Default 0: a report
   * goes out as soon as no other flush is running, and reports that arrive during a flush go
   * together in the next one, so a lone report is never held back. At most a day.
   */
  reportLingerMs?: number;
  /** Database connections for claims, reports and heartbeats (LISTEN has its own), at most 10,000. Default 4. */
  poolSize?: number;
}

/** Counters of a worker core since it started. */
export interface CoreStats {
  binding: BindingName;
  /** Steps handed to this worker by claim_steps. */
  claimed: number;
  /** Messages discarded by claims (never run). */
  discarded: number;
  /** Messages deferred by claims. */
  deferred: number;
  /** Claim round trips. */
  claimRoundTrips: number;
  /** Reports committed and accepted. */
  reported: number;
  /** Reports committed and rejected (lease lost, step finished). */
  rejected: number;
  /** Report round trips (batches). */
  reportRoundTrips: number;
  /** Report round trips that failed and were retried. */
  reportRetries: number;
  /** Lease extensions that succeeded. */
  leaseExtensions: number;
  /** Leases released unused while draining. */
  released: number;
  /** Times the core lost and regained its database. */
  reconnects: number;
  /** Claimed steps waiting for next(). */
  buffered: number;
  /** Steps handed out by next() and not yet reported. */
  inFlight: number;
  /** Steps the next claim asks for: batchSize..maxBatchSize, as the handlers keep up (docs/bindings.md, "Claim size"). */
  claimSize: number;
}

/** What drain() did. */
export interface DrainResult {
  /** Steps still in flight when the timeout ran out (their leases will expire). */
  abandoned: number;
  /** Buffered steps given back with release_leases. */
  released: number;
}

/** A running worker core. One per worker process is typical. */
export interface WorkerCore {
  readonly binding: BindingName;
  /**
   * Up to `max` claimed steps, waiting at most `timeoutMs` for the first; an empty array on
   * timeout, or at once when draining. Steps handed out are in flight: their leases are
   * extended until they are reported.
   */
  next(max: number, timeoutMs: number): Promise<ClaimedStep[]>;
  /**
   * Commits a report (possibly in one round trip with others) and resolves with what the
   * database did. A report that cannot reach the database is retried until it is committed or
   * the core is closed; it is never lost while the core lives.
   */
  report(report: StepReport): Promise<ReportResult>;
  /**
   * Step ids whose handlers should stop now (lease lost, or task no longer running), learned
   * from heartbeats since the last call.
   */
  takeAborted(): string[];
  /**
   * Step ids whose lease lapsed by this core's clock while their handler ran (heartbeats failed
   * or went unanswered for a whole lease): another worker may be running them, so the handlers
   * stop, and are not reported (abandon them), the step running again elsewhere without losing
   * an attempt.
   */
  takeLapsed(): string[];
  /**
   * The handler of a step this core handed out was abandoned (aborted at shutdown) and will not
   * be reported: the step leaves flight, so its lease is no longer extended (it lapses and another
   * worker runs the step without losing an attempt) and drain() stops waiting for it. False when
   * the step is not in flight here under that attempt (or the core is closed).
   */
  abandon(stepId: string, attempt: number): boolean;
  /** Counters. */
  stats(): CoreStats;
  /**
   * Stops claiming, gives back buffered steps, waits up to `timeoutMs` for in-flight steps to be
   * reported and their reports committed, then closes every connection.
   */
  drain(timeoutMs: number): Promise<DrainResult>;
}

/** What each binding module exports. */
export interface BindingModule {
  readonly name: BindingName;
  createWorkerCore(config: WorkerCoreConfig): Promise<WorkerCore>;
  /** Crosses the binding boundary and back with a string, doing nothing else (for benchmarks). */
  echo(payload: string): Promise<string>;
}
