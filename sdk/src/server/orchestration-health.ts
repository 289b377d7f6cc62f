/**
 * An orchestrator's servers: health and metrics like a worker's, plus tasker.v1.TaskService for
 * task intake over gRPC, Connect and gRPC-Web, served through a TaskerClient of its own. Started
 * by Orchestrator.start() once migrations ran and templates are registered, closed by stop().
 */
import { TaskerClient } from '../client/client.ts';
import { TaskService } from '../gen/tasker/v1/tasks_pb.ts';
import type { OrchestratorStats } from '../orchestration/orchestrator.ts';
import { DatabaseProbe } from './database-probe.ts';
import { taskServiceImpl } from './grpc/task-service.ts';
import type { HealthThresholds, ServerListener } from './listener-settings.ts';
import { EventLoopLagMonitor } from './metrics/event-loop-lag.ts';
import { MetricsRegistry } from './metrics/registry.ts';
import { sweepCheck } from './readiness.ts';
import { startHealthServers, type HealthServers, type ServerAddresses } from './servers.ts';
import { ServiceHealth, type ServiceFacts } from './service-health.ts';

/** What the servers read from an Orchestrator. */
export interface OrchestratorView {
  readonly instanceId: string;
  /** starting, running, stopped. */
  state(): string;
  stats(): OrchestratorStats;
  lastSweepError(): string | undefined;
}

export interface OrchestrationHealthSettings {
  databaseUrl: string;
  web: ServerListener | undefined;
  grpc: ServerListener | undefined;
  thresholds: HealthThresholds;
  /** An error a listening server emitted (it keeps serving): for the orchestrator's log. */
  onServerError: (error: Error, what: string) => void;
}

export interface OrchestrationHealthHandle {
  readonly addresses: ServerAddresses;
  close(): Promise<void>;
}

export async function startOrchestrationHealth(view: OrchestratorView, settings: OrchestrationHealthSettings): Promise<OrchestrationHealthHandle> {
  const { thresholds } = settings;
  const registry = new MetricsRegistry();
  const probe = new DatabaseProbe(settings.databaseUrl, {
    applicationName: 'tasker-orchestrator-health',
    ...(thresholds.databaseTimeoutMs === undefined ? {} : { timeoutMs: thresholds.databaseTimeoutMs }),
  });
  const lag = new EventLoopLagMonitor(thresholds.eventLoopWindowMs === undefined ? {} : { windowMs: thresholds.eventLoopWindowMs });
  // Cancellations made through the API are recorded as this orchestrator's.
  const client = new TaskerClient({ databaseUrl: settings.databaseUrl, poolSize: 4, actor: view.instanceId });
  registerOrchestratorMetrics(registry, view, probe);
  const facts: ServiceFacts = {
    service: 'orchestration',
    instanceId: view.instanceId,
    state: () => view.state(),
    extraChecks: () => {
      const stats = view.stats();
      return [sweepCheck({ state: view.state(), consecutiveErrors: stats.consecutiveSweepErrors, lastError: view.lastSweepError() })];
    },
    namespaces: () => undefined,
    inFlightSteps: () => probe.inProgressSteps(),
    binding: () => '',
    detail: () => ({ orchestration: { state: view.state(), ...view.stats() } }),
  };
  const source = new ServiceHealth({ facts, probe, lag, registry, eventLoopBlockedMs: thresholds.eventLoopBlockedMs ?? 2_000 });
  lag.start();
  let servers: HealthServers;
  try {
    servers = await startHealthServers({
      source,
      web: settings.web,
      grpc: settings.grpc,
      section: 'orchestration',
      onServerError: settings.onServerError,
      services: { register: (router) => router.service(TaskService, taskServiceImpl(client)), names: [TaskService.typeName] },
    });
  } catch (error) {
    lag.stop();
    await Promise.all([probe.close(), client.close()]);
    throw error;
  }
  return {
    addresses: servers.addresses,
    close: async () => {
      await servers.close();
      lag.stop();
      await Promise.all([probe.close(), client.close()]);
    },
  };
}

function registerOrchestratorMetrics(registry: MetricsRegistry, view: OrchestratorView, probe: DatabaseProbe): void {
  const stat = (read: (stats: OrchestratorStats) => number) => (): [Record<string, string>, number][] => [[{}, read(view.stats())]];
  registry.collectedCounter('tasker_sweeps_total', 'Sweep passes (expired leases, task deadlines).', [], stat((s) => s.sweeps));
  registry.collectedCounter('tasker_sweep_errors_total', 'Sweep passes that failed.', [], stat((s) => s.sweepErrors));
  registry.collectedCounter('tasker_steps_dead_lettered_total', 'Steps failed by the sweeper after their last allowed delivery.', [], stat((s) => s.deadLettered));
  registry.collectedCounter('tasker_sweep_cancelled_steps_total', 'Leased steps of finished tasks cancelled by the sweeper.', [], stat((s) => s.cancelledSteps));
  registry.collectedCounter('tasker_tasks_timed_out_total', 'Tasks failed by the sweeper because their deadline passed.', [], stat((s) => s.timedOutTasks));
  const inProgress = registry.gauge('tasker_steps_in_progress', 'Steps in progress in the database, across every worker.');
  registry.onScrape(async () => {
    inProgress.set({}, await probe.inProgressSteps());
  });
}
