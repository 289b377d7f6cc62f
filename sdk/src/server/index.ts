/**
 * The health servers of workers and orchestrators: REST (/health, /health/ready,
 * /health/detailed, /metrics) and gRPC (tasker.v1.HealthService, grpc.health.v1.Health, and the
 * orchestrator's tasker.v1.TaskService). Started by Worker and Orchestrator themselves; what is
 * exported here is what their options and answers are made of. docs/health.md describes them.
 */
export type {
  CheckResult,
  DatabaseStatus,
  DetailedHealth,
  HealthSource,
  LivenessReport,
  OrchestrationHealth,
  QueueDepth,
  ReadinessReport,
  ServiceKind,
  WorkerHealth,
} from './health-types.ts';
export { ServerListenError, type ListenAddress } from './listen.ts';
export type { HealthThresholds, ListenerOption } from './listener-settings.ts';
export type { ServerAddresses } from './servers.ts';
export { PROMETHEUS_CONTENT_TYPE } from './metrics/exposition.ts';
