/**
 * Health reports (health-types.ts) as tasker.v1 messages: the REST JSON and the gRPC answers
 * carry the same facts.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  CheckLivenessResponseSchema,
  CheckReadinessResponseSchema,
  GetDetailedHealthResponseSchema,
  HealthStatus,
  type HealthCheckSchema,
  ServiceKind as ProtoServiceKind,
  type CheckLivenessResponse,
  type CheckReadinessResponse,
  type GetDetailedHealthResponse,
} from '../../gen/tasker/v1/health_pb.ts';
import type { CheckResult, DetailedHealth, LivenessReport, ReadinessReport, ServiceKind } from '../health-types.ts';

function kind(service: ServiceKind): ProtoServiceKind {
  return service === 'worker' ? ProtoServiceKind.WORKER : ProtoServiceKind.ORCHESTRATION;
}

function status(ok: boolean): HealthStatus {
  return ok ? HealthStatus.HEALTHY : HealthStatus.UNHEALTHY;
}

function checks(results: readonly CheckResult[]): MessageInitShape<typeof HealthCheckSchema>[] {
  return results.map((check) => ({ name: check.name, ok: check.ok, message: check.message }));
}

/** Counters are int64 in the protocol. */
function int64(value: number): bigint {
  return BigInt(Math.max(0, Math.trunc(value)));
}

export function livenessMessage(report: LivenessReport): CheckLivenessResponse {
  return create(CheckLivenessResponseSchema, {
    status: status(report.alive),
    service: kind(report.service),
    instanceId: report.instanceId,
    checkedAt: timestampFromDate(new Date(report.checkedAt)),
  });
}

export function readinessMessage(report: ReadinessReport): CheckReadinessResponse {
  return create(CheckReadinessResponseSchema, {
    ready: report.ready,
    status: status(report.ready),
    service: kind(report.service),
    instanceId: report.instanceId,
    checks: checks(report.checks),
    checkedAt: timestampFromDate(new Date(report.checkedAt)),
  });
}

export function detailedMessage(health: DetailedHealth): GetDetailedHealthResponse {
  const { worker, orchestration } = health;
  return create(GetDetailedHealthResponseSchema, {
    status: status(health.status === 'healthy'),
    ready: health.ready,
    service: kind(health.service),
    instanceId: health.instanceId,
    version: health.version,
    runtime: health.runtime,
    runtimeVersion: health.runtimeVersion,
    startedAt: timestampFromDate(new Date(health.startedAt)),
    uptimeSeconds: health.uptimeSeconds,
    database: {
      reachable: health.database.reachable,
      latencyMs: health.database.latencyMs,
      error: health.database.error ?? '',
      serverVersion: health.database.serverVersion ?? '',
      pgmqVersion: health.database.pgmqVersion ?? '',
    },
    queues: health.queues.map((queue) => ({
      namespace: queue.namespace,
      queue: queue.queue,
      depth: int64(queue.depth),
      visible: int64(queue.visible),
      oldestAgeSeconds: int64(queue.oldestAgeSeconds),
    })),
    inFlightSteps: int64(health.inFlightSteps),
    eventLoopLagMs: health.eventLoopLagMs,
    eventLoopLagMaxMs: health.eventLoopLagMaxMs,
    checks: checks(health.checks),
    detail:
      worker !== undefined
        ? {
            case: 'worker',
            value: {
              state: worker.state,
              binding: worker.binding ?? '',
              namespaces: worker.namespaces,
              concurrency: worker.concurrency,
              running: int64(worker.running),
              reporting: int64(worker.reporting),
              buffered: int64(worker.buffered),
              claimed: int64(worker.claimed),
              succeeded: int64(worker.succeeded),
              retried: int64(worker.retried),
              failed: int64(worker.failed),
              rejected: int64(worker.rejected),
              abandoned: int64(worker.abandoned),
              leaseExtensions: int64(worker.leaseExtensions),
              reconnects: int64(worker.reconnects),
              lastClaimRoundAgeSeconds: worker.lastClaimRoundAgeSeconds ?? 0,
              claimSize: worker.claimSize,
            },
          }
        : orchestration !== undefined
          ? {
              case: 'orchestration',
              value: {
                state: orchestration.state,
                sweeps: int64(orchestration.sweeps),
                deadLettered: int64(orchestration.deadLettered),
                cancelledSteps: int64(orchestration.cancelledSteps),
                timedOutTasks: int64(orchestration.timedOutTasks),
                sweepErrors: int64(orchestration.sweepErrors),
              },
            }
          : { case: undefined },
  });
}
