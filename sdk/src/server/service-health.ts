/**
 * The health of one service (worker or orchestrator) as both servers serve it: liveness,
 * readiness, the detailed report and the metrics text. What differs between the two services
 * (their state, extra checks, counters, which queues are theirs) comes in as a ServiceFacts.
 */
import type { DatabaseProbe } from './database-probe.ts';
import type {
  CheckResult,
  DetailedHealth,
  HealthSource,
  LivenessReport,
  OrchestrationHealth,
  QueueDepth,
  ReadinessReport,
  ServiceKind,
  WorkerHealth,
} from './health-types.ts';
import type { EventLoopLagMonitor } from './metrics/event-loop-lag.ts';
import type { MetricsRegistry } from './metrics/registry.ts';
import { databaseCheck, eventLoopCheck, stateCheck } from './readiness.ts';
import { runtimeInfo } from './runtime-info.ts';

/** What one kind of service tells its health source. */
export interface ServiceFacts {
  service: ServiceKind;
  instanceId: string;
  /** created, starting, running, stopping, stopped. */
  state(): string;
  /** Checks beyond state, database and event loop (a worker's claim loop). */
  extraChecks(): CheckResult[];
  /** The namespaces whose queues are shown; undefined: every namespace. */
  namespaces(): readonly string[] | undefined;
  /** Steps in flight as this service counts them. */
  inFlightSteps(): Promise<number>;
  /** napi, ffi, pg; empty for an orchestrator. */
  binding(): string;
  detail(): { worker?: WorkerHealth; orchestration?: OrchestrationHealth };
}

export interface ServiceHealthParts {
  facts: ServiceFacts;
  probe: DatabaseProbe;
  lag: EventLoopLagMonitor;
  registry: MetricsRegistry;
  /** Largest event-loop lag, within the lag window, that still counts as ready. */
  eventLoopBlockedMs: number;
}

export class ServiceHealth implements HealthSource {
  readonly service: ServiceKind;
  readonly instanceId: string;
  private readonly startedAt = new Date();
  private readonly startedMs = performance.now();
  private lastQueues: QueueDepth[] = [];

  constructor(private readonly parts: ServiceHealthParts) {
    this.service = parts.facts.service;
    this.instanceId = parts.facts.instanceId;
    this.registerMetrics();
  }

  /** Alive unless stopped: answering at all shows the event loop turns. */
  liveness(): LivenessReport {
    return { alive: this.parts.facts.state() !== 'stopped', service: this.service, instanceId: this.instanceId, checkedAt: now() };
  }

  async readiness(): Promise<ReadinessReport> {
    const { facts, probe, lag, eventLoopBlockedMs } = this.parts;
    const database = await probe.check();
    const checks = [stateCheck(facts.state()), databaseCheck(database), eventLoopCheck(lag.maxMs(), eventLoopBlockedMs), ...facts.extraChecks()];
    return { ready: checks.every((check) => check.ok), service: this.service, instanceId: this.instanceId, checks, checkedAt: now() };
  }

  async detailed(): Promise<DetailedHealth> {
    const { facts, probe, lag } = this.parts;
    const readiness = await this.readiness();
    const database = await probe.check();
    const queues = database.reachable ? await this.queues() : [];
    const inFlightSteps = await facts.inFlightSteps().catch(() => 0);
    const info = runtimeInfo();
    return {
      status: readiness.ready ? 'healthy' : 'unhealthy',
      ready: readiness.ready,
      service: this.service,
      instanceId: this.instanceId,
      version: info.version,
      runtime: info.runtime,
      runtimeVersion: info.runtimeVersion,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: this.uptimeSeconds(),
      database,
      queues,
      inFlightSteps,
      eventLoopLagMs: round(lag.currentMs()),
      eventLoopLagMaxMs: round(lag.maxMs()),
      checks: readiness.checks,
      ...facts.detail(),
    };
  }

  metrics(): Promise<string> {
    return this.parts.registry.render();
  }

  private async queues(): Promise<QueueDepth[]> {
    try {
      this.lastQueues = await this.parts.probe.queueDepths(this.parts.facts.namespaces());
    } catch {
      // Not migrated yet, or the database went away between two queries: show nothing rather than fail.
      this.lastQueues = [];
    }
    return this.lastQueues;
  }

  private uptimeSeconds(): number {
    return Math.round((performance.now() - this.startedMs) / 10) / 100;
  }

  private registerMetrics(): void {
    const { registry, facts, lag, probe } = this.parts;
    const info = runtimeInfo();
    registry.collectedGauge('tasker_info', 'Which service, runtime, SDK version and binding this is (always 1).', ['service', 'runtime', 'runtime_version', 'version', 'binding'], () => [
      [{ service: this.service, runtime: info.runtime, runtime_version: info.runtimeVersion, version: info.version, binding: facts.binding() }, 1],
    ]);
    registry.collectedGauge('tasker_uptime_seconds', 'Seconds since the service started.', [], () => [[{}, this.uptimeSeconds()]]);
    registry.collectedGauge('tasker_event_loop_lag_seconds', 'Latest event-loop lag.', [], () => [[{}, lag.currentMs() / 1000]]);
    registry.collectedGauge('tasker_event_loop_lag_max_seconds', 'Largest event-loop lag within the readiness window.', [], () => [[{}, lag.maxMs() / 1000]]);
    const ready = registry.gauge('tasker_ready', '1 when the service is ready (every readiness check passes), else 0.');
    const databaseUp = registry.gauge('tasker_database_up', '1 when the database answered the latest probe, else 0.');
    registry.collectedGauge('tasker_queue_depth', 'Messages in a namespace queue, claimable or leased.', ['namespace'], () =>
      this.lastQueues.map((queue) => [{ namespace: queue.namespace }, queue.depth]),
    );
    registry.collectedGauge('tasker_queue_visible_depth', 'Messages claimable now in a namespace queue.', ['namespace'], () =>
      this.lastQueues.map((queue) => [{ namespace: queue.namespace }, queue.visible]),
    );
    registry.collectedGauge('tasker_queue_oldest_message_age_seconds', 'Age of the oldest message in a namespace queue.', ['namespace'], () =>
      this.lastQueues.map((queue) => [{ namespace: queue.namespace }, queue.oldestAgeSeconds]),
    );
    registry.onScrape(async () => {
      const readiness = await this.readiness();
      ready.set({}, readiness.ready ? 1 : 0);
      const database = await probe.check();
      databaseUp.set({}, database.reachable ? 1 : 0);
      if (database.reachable) await this.queues();
      else this.lastQueues = [];
    });
  }
}

function now(): string {
  return new Date().toISOString();
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
