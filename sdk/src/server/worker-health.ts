/**
 * A worker's health servers: what the worker tells them (its state, stats and claim loop),
 * turned into readiness, the detailed report and metrics, served over REST and gRPC. Started by
 * Worker.start() after the core connects, closed by its stop() after the drain, so probes see a
 * draining worker as alive but not ready.
 */
import type { WorkerObserver } from '../worker/observer.ts';
import type { ResolvedWorkerOptions } from '../worker/options.ts';
import type { WorkerStats } from '../worker/worker.ts';
import { DatabaseProbe } from './database-probe.ts';
import type { HealthThresholds, ServerListener } from './listener-settings.ts';
import { EventLoopLagMonitor } from './metrics/event-loop-lag.ts';
import { MetricsRegistry } from './metrics/registry.ts';
import { claimLoopCheck } from './readiness.ts';
import { startHealthServers, type HealthServers, type ServerAddresses } from './servers.ts';
import { ServiceHealth, type ServiceFacts } from './service-health.ts';
import { WorkerTelemetry } from './worker-telemetry.ts';

/** What the health servers read from a Worker. */
export interface WorkerView {
  readonly options: ResolvedWorkerOptions;
  stats(): WorkerStats;
}

export interface WorkerHealthSettings {
  web: ServerListener | undefined;
  grpc: ServerListener | undefined;
  thresholds: HealthThresholds;
  /** How long one next() call waits for work: a healthy loop finishes a round at least this often. */
  claimWaitMs: number;
  /** An error a listening server emitted (it keeps serving): for the worker's log. */
  onServerError: (error: Error, what: string) => void;
}

/** Running health servers, and the observer the worker must feed. */
export interface WorkerHealthHandle {
  readonly observer: WorkerObserver;
  readonly addresses: ServerAddresses;
  close(): Promise<void>;
}

export async function startWorkerHealth(worker: WorkerView, settings: WorkerHealthSettings): Promise<WorkerHealthHandle> {
  const { options } = worker;
  const { thresholds } = settings;
  const registry = new MetricsRegistry();
  const telemetry = new WorkerTelemetry(registry, () => worker.stats());
  const probe = new DatabaseProbe(options.databaseUrl, {
    applicationName: 'tasker-worker-health',
    ...(thresholds.databaseTimeoutMs === undefined ? {} : { timeoutMs: thresholds.databaseTimeoutMs }),
  });
  const lag = new EventLoopLagMonitor(thresholds.eventLoopWindowMs === undefined ? {} : { windowMs: thresholds.eventLoopWindowMs });
  const pollIntervalMs = options.core.pollIntervalMs ?? (options.mode === 'PollingOnly' ? 100 : 1_000);
  const stallMs = thresholds.claimStallMs ?? 10 * Math.max(pollIntervalMs, settings.claimWaitMs);
  // A polling core claims at least every poll interval; an EventDrivenOnly one only when notified.
  const coreClaimsOften = options.mode !== 'EventDrivenOnly';
  const facts: ServiceFacts = {
    service: 'worker',
    instanceId: options.workerId,
    state: () => worker.stats().state,
    extraChecks: () => [
      claimLoopCheck({
        state: worker.stats().state,
        ageMs: telemetry.claimLoopAgeMs(),
        coreAgeMs: coreClaimsOften ? telemetry.coreClaimAgeMs() : undefined,
        waitingForSlot: telemetry.waitingForSlotNow(),
        stallMs,
      }),
    ],
    namespaces: () => options.namespaces,
    inFlightSteps: async () => {
      const stats = worker.stats();
      return stats.core?.inFlight ?? stats.running;
    },
    binding: () => worker.stats().binding ?? '',
    detail: () => {
      const stats = worker.stats();
      return {
        worker: {
          state: stats.state,
          binding: stats.binding,
          namespaces: options.namespaces,
          concurrency: options.concurrency,
          running: stats.running,
          reporting: stats.reporting,
          buffered: stats.core?.buffered ?? 0,
          claimed: stats.core?.claimed ?? 0,
          succeeded: stats.succeeded,
          retried: stats.retried,
          failed: stats.failed,
          rejected: stats.rejected,
          abandoned: stats.abandoned,
          leaseExtensions: stats.core?.leaseExtensions ?? 0,
          reconnects: stats.core?.reconnects ?? 0,
          lastClaimRoundAgeSeconds: Math.round(telemetry.claimLoopAgeMs() / 10) / 100,
          claimSize: stats.core?.claimSize ?? 0,
        },
      };
    },
  };
  const source = new ServiceHealth({ facts, probe, lag, registry, eventLoopBlockedMs: thresholds.eventLoopBlockedMs ?? 2_000 });
  lag.start();
  let servers: HealthServers;
  try {
    servers = await startHealthServers({ source, web: settings.web, grpc: settings.grpc, section: 'worker', onServerError: settings.onServerError });
  } catch (error) {
    lag.stop();
    await probe.close();
    throw error;
  }
  return {
    observer: telemetry,
    addresses: servers.addresses,
    close: async () => {
      await servers.close();
      lag.stop();
      await probe.close();
    },
  };
}
