/**
 * What the health endpoints report, in TypeScript terms. The REST server writes these as JSON;
 * the gRPC server converts them to tasker.v1 messages. Nothing here may ever hold a secret: no
 * database URL, no password (error texts are redacted where they are made).
 */

/** Which service answers. */
export type ServiceKind = 'worker' | 'orchestration';

/** One readiness check and what it found. */
export interface CheckResult {
  /** `state`, `database`, `event_loop`, `claim_loop`. */
  name: string;
  ok: boolean;
  message: string;
}

/** The liveness answer (`GET /health`, gRPC CheckLiveness): the service is alive until it stops. */
export interface LivenessReport {
  alive: boolean;
  service: ServiceKind;
  instanceId: string;
  checkedAt: string;
}

/** The readiness answer (`GET /health/ready`, gRPC CheckReadiness): ready when every check passes. */
export interface ReadinessReport {
  ready: boolean;
  service: ServiceKind;
  instanceId: string;
  checks: CheckResult[];
  checkedAt: string;
}

/** The database as the service sees it. */
export interface DatabaseStatus {
  reachable: boolean;
  latencyMs: number;
  /** Why it is unreachable (redacted); absent when reachable. */
  error?: string;
  serverVersion?: string;
  pgmqVersion?: string;
}

/** One namespace's PGMQ queue. */
export interface QueueDepth {
  namespace: string;
  queue: string;
  /** Every message, claimable or leased. */
  depth: number;
  /** Claimable now. */
  visible: number;
  oldestAgeSeconds: number;
}

/** A worker's state and counters, the `worker` part of the detailed health. */
export interface WorkerHealth {
  state: string;
  binding: string | null;
  namespaces: string[];
  concurrency: number;
  running: number;
  /** Handlers finished whose reports are not yet answered. */
  reporting: number;
  buffered: number;
  claimed: number;
  succeeded: number;
  retried: number;
  failed: number;
  rejected: number;
  abandoned: number;
  leaseExtensions: number;
  reconnects: number;
  lastClaimRoundAgeSeconds: number | null;
  /** Steps the next claim asks for (batchSize, growing to maxBatchSize while handlers keep up). */
  claimSize: number;
}

/** An orchestrator's state and sweep counters, the `orchestration` part of the detailed health. */
export interface OrchestrationHealth {
  state: string;
  sweeps: number;
  deadLettered: number;
  cancelledSteps: number;
  timedOutTasks: number;
  sweepErrors: number;
  consecutiveSweepErrors: number;
}

/** The detailed health (`GET /health/detailed`, gRPC GetDetailedHealth): readiness plus database, queues, runtime and service counters. */
export interface DetailedHealth {
  status: 'healthy' | 'unhealthy';
  ready: boolean;
  service: ServiceKind;
  instanceId: string;
  version: string;
  runtime: string;
  runtimeVersion: string;
  startedAt: string;
  uptimeSeconds: number;
  database: DatabaseStatus;
  queues: QueueDepth[];
  inFlightSteps: number;
  eventLoopLagMs: number;
  eventLoopLagMaxMs: number;
  checks: CheckResult[];
  worker?: WorkerHealth;
  orchestration?: OrchestrationHealth;
}

/** What a service gives its REST and gRPC servers. */
export interface HealthSource {
  readonly service: ServiceKind;
  readonly instanceId: string;
  liveness(): LivenessReport;
  readiness(): Promise<ReadinessReport>;
  detailed(): Promise<DetailedHealth>;
  /** The Prometheus text. */
  metrics(): Promise<string>;
}
