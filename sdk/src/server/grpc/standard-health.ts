/**
 * The standard gRPC health protocol (grpc.health.v1.Health), so Kubernetes gRPC probes,
 * grpc_health_probe and every gRPC client's health checking work against Tasker's servers.
 *
 * Service names: "" (the server as a whole), "readiness", and each tasker.v1 service the server
 * hosts report readiness; "liveness" reports liveness (for a Kubernetes livenessProbe, which may
 * name a service). Anything else is NOT_FOUND for Check and SERVICE_UNKNOWN for Watch, as the
 * protocol says.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthCheckResponseSchema, type Health } from '../../gen/grpc/health/v1/health_pb.ts';
import type { HealthSource } from '../health-types.ts';

export interface StandardHealthOptions {
  /** Names of the services this server hosts (tasker.v1.HealthService, ...). */
  services: readonly string[];
  /** Aborted when the server closes: open Watch streams end (with OK; clients then retry). */
  closing: AbortSignal;
  /** How often a Watch looks again for a change. Default 1,000 ms. */
  watchIntervalMs?: number;
}

export function standardHealthImpl(source: HealthSource, options: StandardHealthOptions): ServiceImpl<typeof Health> {
  const readinessNames = new Set(['', 'readiness', ...options.services]);
  const statusOf = async (service: string): Promise<ServingStatus> => {
    if (service === 'liveness') return source.liveness().alive ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    if (readinessNames.has(service)) return (await source.readiness()).ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    return ServingStatus.SERVICE_UNKNOWN;
  };
  return {
    async check(request) {
      const status = await statusOf(request.service);
      if (status === ServingStatus.SERVICE_UNKNOWN) throw new ConnectError(`unknown service ${JSON.stringify(request.service)}`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status });
    },
    async *watch(request, context) {
      let last: ServingStatus | undefined;
      while (!context.signal.aborted && !options.closing.aborted) {
        const status = await statusOf(request.service);
        if (status !== last) {
          last = status;
          yield create(HealthCheckResponseSchema, { status });
        }
        await pause(options.watchIntervalMs ?? 1_000, [context.signal, options.closing]);
      }
    },
  };
}

/** Waits `ms`, or less if a signal aborts first. */
function pause(ms: number, signals: readonly AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const signal of signals) signal.addEventListener('abort', done, { once: true });
  });
}
