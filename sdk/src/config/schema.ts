/**
 * Every configuration key: its type, its environment variable and its default. This table is
 * the single source of the key names, the defaults, the validation and the docs' key table
 * (docs/config.md is checked against it by test/config).
 */
import type { BindingName, DeploymentMode } from '../binding/types.ts';
import { DEPLOYMENT_MODES, MIGRATION_RETRIES, MIGRATION_TIMEOUT_SECONDS } from '../db/migration-settings.ts';
import { STEP_LOG_LEVELS } from '../handler/logger.ts';
import { MAX_INSTANCES } from './instance-port.ts';

/** A value a key can hold once parsed. */
export type ConfigValue = string | number | boolean | readonly string[];

/** What a key accepts. */
export type ValueKind =
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'enum'; values: readonly string[]; caseInsensitive?: boolean; hint?: string }
  | { kind: 'string' }
  | { kind: 'database-url' }
  | { kind: 'boolean' }
  | { kind: 'list' };

/** One configuration key. */
export interface KeySpec {
  /** Dotted key, `section.key` or `section.table.key`. */
  key: string;
  /** The environment variable that overrides it (seed names where the seeds define one). */
  env: string;
  type: ValueKind;
  /** Default when no layer sets the key; absent when the default is computed or there is none. */
  default?: ConfigValue;
  /** How the default is worked out when it depends on other keys (or on the process). */
  computedDefault?: string;
  /** Read from the environment only, never from a file (it may hold a password). */
  envOnly?: boolean;
  /** One line for the docs and the generated file. */
  doc: string;
}

/** The binding names (sdk/src/binding/select.ts BINDING_NAMES; test/config checks they agree). */
export const BINDINGS = ['napi', 'ffi', 'pg'] as const satisfies readonly BindingName[];
/** Hybrid | EventDrivenOnly | PollingOnly, for workers and orchestrators alike. */
export const EVENT_MODES = ['Hybrid', 'EventDrivenOnly', 'PollingOnly'] as const satisfies readonly DeploymentMode[];
export const LOG_FORMATS = ['pretty', 'json'] as const;
export const BINDING_FALLBACKS = ['none', 'pg'] as const;
export const MESSAGING_BACKENDS = ['pgmq'] as const;

const PORT = { kind: 'integer', min: 0, max: 65_535 } as const;
const MS_PER_DAY = 86_400_000;
/** worker.shutdown_grace_ms; the Worker's option of that name is held to the same range. */
export const SHUTDOWN_GRACE_MS = { min: 0, max: MS_PER_DAY } as const;
/** worker.concurrency; `tasker-ctl worker --concurrency` is held to the same range. */
export const WORKER_CONCURRENCY = { min: 1, max: 10_000 } as const;
/** orchestration.sweep_interval_ms; the Orchestrator's option of that name is held to the same range. */
export const SWEEP_INTERVAL_MS = { min: 10, max: 3_600_000 } as const;

/**
 * The instance index of a cluster member. Both sections read one variable: a process is one
 * instance, whichever service it runs.
 */
function instanceIndex(section: 'worker' | 'orchestration', rest: number, grpc: number): KeySpec {
  return {
    key: `${section}.instance_index`,
    env: 'TASKER_INSTANCE_ID',
    type: { kind: 'integer', min: 0, max: MAX_INSTANCES - 1 },
    default: 0,
    doc: `Which instance of a cluster this is: it serves REST on ${section}.web.port + index and gRPC on ${section}.grpc.port + index (${rest}/${grpc}, ${rest + 1}/${grpc + 1}, ...).`,
  };
}

function listener(section: 'worker' | 'orchestration', protocol: 'web' | 'grpc', port: number): KeySpec[] {
  const upper = `TASKER_${section.toUpperCase()}_${protocol.toUpperCase()}`;
  const what = `${section} ${protocol === 'web' ? 'REST' : 'gRPC'} server`;
  return [
    { key: `${section}.${protocol}.enabled`, env: `${upper}_ENABLED`, type: { kind: 'boolean' }, default: true, doc: `Run the ${what}.` },
    { key: `${section}.${protocol}.host`, env: `${upper}_HOST`, type: { kind: 'string' }, default: '0.0.0.0', doc: `Address the ${what} binds.` },
    { key: `${section}.${protocol}.port`, env: `${upper}_PORT`, type: PORT, default: port, doc: `Port of the ${what} (0: any free port).` },
  ];
}

/** Every key, in the order the docs and generated files list them. */
export const CONFIG_KEYS: readonly KeySpec[] = [
  {
    key: 'common.database.url',
    env: 'DATABASE_URL',
    type: { kind: 'database-url' },
    envOnly: true,
    computedDefault: 'unset: the embedded PostgreSQL server',
    doc: 'PostgreSQL URL. Environment only: it holds a password, so no file holds it.',
  },
  {
    key: 'common.messaging.backend',
    env: 'TASKER_MESSAGING_BACKEND',
    type: { kind: 'enum', values: MESSAGING_BACKENDS, hint: 'Tasker for TypeScript runs on PGMQ only' },
    default: 'pgmq',
    doc: 'Message queue backend.',
  },
  {
    key: 'common.log.level',
    env: 'TASKER_LOG_LEVEL',
    type: { kind: 'enum', values: STEP_LOG_LEVELS, caseInsensitive: true },
    default: 'info',
    doc: 'Lowest level written.',
  },
  {
    key: 'common.log.format',
    env: 'TASKER_LOG_FORMAT',
    type: { kind: 'enum', values: LOG_FORMATS },
    computedDefault: 'json in production, else pretty',
    doc: 'pretty: readable lines; json: one JSON object per line.',
  },
  {
    key: 'worker.id',
    env: 'WORKER_ID',
    type: { kind: 'string' },
    computedDefault: '<runtime>-<host>-<pid>',
    doc: 'Recorded as the actor of every transition the worker causes.',
  },
  {
    key: 'worker.namespaces',
    env: 'TASKER_WORKER_NAMESPACES',
    type: { kind: 'list' },
    default: [],
    doc: 'Namespaces to serve (comma-separated in the variable); empty: from --namespace or --templates.',
  },
  {
    key: 'worker.concurrency',
    env: 'TASKER_WORKER_CONCURRENCY',
    type: { kind: 'integer', ...WORKER_CONCURRENCY },
    default: 10,
    doc: 'Most handlers running at once.',
  },
  {
    key: 'worker.deployment_mode',
    env: 'TASKER_WORKER_DEPLOYMENT_MODE',
    type: { kind: 'enum', values: EVENT_MODES },
    default: 'Hybrid',
    doc: 'How the worker learns of work: LISTEN/NOTIFY plus polling, LISTEN only, or polling only.',
  },
  {
    key: 'worker.binding',
    env: 'TASKER_BINDING',
    type: { kind: 'enum', values: BINDINGS },
    default: 'napi',
    doc: 'Worker core: napi addon, C ABI (ffi), or pure TypeScript (pg).',
  },
  {
    key: 'worker.binding_fallback',
    env: 'TASKER_BINDING_FALLBACK',
    type: { kind: 'enum', values: BINDING_FALLBACKS },
    default: 'none',
    doc: 'pg: use the pg binding, with a warning, when the native one cannot load.',
  },
  {
    key: 'worker.shutdown_grace_ms',
    env: 'TASKER_WORKER_SHUTDOWN_GRACE_MS',
    type: { kind: 'integer', ...SHUTDOWN_GRACE_MS },
    default: 30_000,
    doc: 'How long a drain waits for running handlers before aborting them.',
  },
  {
    key: 'worker.poll_interval_ms',
    env: 'TASKER_WORKER_POLL_INTERVAL_MS',
    type: { kind: 'integer', min: 1, max: 3_600_000 },
    computedDefault: '100 in PollingOnly, else 1000',
    doc: 'Polling interval of Hybrid (safety net) and PollingOnly.',
  },
  {
    key: 'worker.lease_seconds',
    env: 'TASKER_WORKER_LEASE_SECONDS',
    type: { kind: 'integer', min: 1, max: 86_400 },
    default: 30,
    doc: 'Lease (visibility timeout) given to a claimed step.',
  },
  {
    key: 'worker.heartbeat_ms',
    env: 'TASKER_WORKER_HEARTBEAT_MS',
    type: { kind: 'integer', min: 1, max: MS_PER_DAY },
    computedDefault: 'lease_seconds × 1000 / 3',
    doc: 'How often leases of running steps are extended; shorter than the lease.',
  },
  {
    key: 'worker.batch_size',
    env: 'TASKER_WORKER_BATCH_SIZE',
    type: { kind: 'integer', min: 1, max: 1_000 },
    default: 10,
    doc: 'Messages a claim round trip reads at first, and the least it shrinks back to.',
  },
  {
    key: 'worker.max_batch_size',
    env: 'TASKER_WORKER_MAX_BATCH_SIZE',
    type: { kind: 'integer', min: 1, max: 1_000 },
    computedDefault: 'max(batch_size, 100)',
    doc: 'Most messages a claim round trip grows to while handlers keep up; batch_size keeps claims one size.',
  },
  {
    key: 'worker.prefetch',
    env: 'TASKER_WORKER_PREFETCH',
    type: { kind: 'integer', min: 1, max: 100_000 },
    computedDefault: '2 × max_batch_size',
    doc: 'Most claimed steps kept ready beyond those running (two claims\' worth, at most this).',
  },
  {
    key: 'worker.pool_size',
    env: 'TASKER_WORKER_POOL_SIZE',
    type: { kind: 'integer', min: 1, max: 1_000 },
    default: 4,
    doc: 'Database connections for claims, reports and heartbeats (LISTEN has its own).',
  },
  {
    key: 'worker.report_batch_max',
    env: 'TASKER_WORKER_REPORT_BATCH_MAX',
    type: { kind: 'integer', min: 1, max: 10_000 },
    default: 100,
    doc: 'Most reports committed in one round trip.',
  },
  {
    key: 'worker.report_linger_ms',
    env: 'TASKER_WORKER_REPORT_LINGER_MS',
    type: { kind: 'integer', min: 0, max: 60_000 },
    default: 0,
    doc: 'How long a report may wait for others to share its round trip.',
  },
  ...listener('worker', 'web', 8085),
  ...listener('worker', 'grpc', 9400),
  instanceIndex('worker', 8085, 9400),
  {
    key: 'orchestration.deployment_mode',
    env: 'TASKER_ORCHESTRATION_DEPLOYMENT_MODE',
    type: { kind: 'enum', values: EVENT_MODES },
    default: 'Hybrid',
    doc: 'When the sweeps run: when something falls due (LISTEN/NOTIFY) plus the interval, only when due, or on the interval only.',
  },
  {
    key: 'orchestration.sweep_interval_ms',
    env: 'TASKER_ORCHESTRATION_SWEEP_INTERVAL_MS',
    type: { kind: 'integer', ...SWEEP_INTERVAL_MS },
    default: 1_000,
    doc: 'Sweep interval of PollingOnly, and safety net of Hybrid.',
  },
  {
    key: 'orchestration.migrations.mode',
    env: 'DEPLOYMENT_MODE',
    type: { kind: 'enum', values: DEPLOYMENT_MODES },
    default: 'standard',
    doc: 'standard: migrate, then serve; migrate-only: migrate, then exit; no-migrate: serve without migrating.',
  },
  {
    key: 'orchestration.migrations.timeout_seconds',
    env: 'DB_MIGRATION_TIMEOUT',
    type: { kind: 'integer', ...MIGRATION_TIMEOUT_SECONDS },
    default: 300,
    doc: 'Budget of a whole migration run.',
  },
  {
    key: 'orchestration.migrations.retries',
    env: 'DB_MIGRATION_RETRIES',
    type: { kind: 'integer', ...MIGRATION_RETRIES },
    default: 3,
    doc: 'Connection retries of a migration run, with exponential backoff.',
  },
  ...listener('orchestration', 'web', 8080),
  ...listener('orchestration', 'grpc', 9190),
  instanceIndex('orchestration', 8080, 9190),
];

const BY_KEY = new Map(CONFIG_KEYS.map((spec) => [spec.key, spec]));

/** The spec of a key, or undefined for an unknown one. */
export function keySpec(key: string): KeySpec | undefined {
  return BY_KEY.get(key);
}

/** Dotted names that are tables (prefixes of keys), e.g. `worker`, `worker.web`. */
export const CONFIG_TABLES: ReadonlySet<string> = new Set(
  CONFIG_KEYS.flatMap((spec) => {
    const parts = spec.key.split('.');
    return parts.slice(1).map((_, index) => parts.slice(0, index + 1).join('.'));
  }),
);

/** The section (`common`, `worker`, `orchestration`) a key belongs to. */
export function sectionOf(key: string): string {
  return key.split('.')[0] ?? key;
}
