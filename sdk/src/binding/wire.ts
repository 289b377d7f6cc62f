/**
 * The wire format of the native bindings (docs/bindings.md, "Wire format"): configs, steps,
 * reports and results cross the boundary as JSON text with the field names of the TypeScript
 * types; timestamps are ISO-8601 strings. These functions turn the parsed JSON back into the
 * TypeScript types (`leaseExpiresAt` → `Date`, `nextRetryAt` → `Date | null`), checking the shape
 * as they go, so a core that answers something else fails loudly instead of leaking `undefined`.
 */
import { DatabaseConnectionError, TaskerError } from '../errors.ts';
import { translateProtocolError } from '../protocol/errors.ts';
import type { ClaimedStep, JsonObject, ReportResult, StepReport, StepState, StepType, TaskState } from '../protocol/types.ts';
import { InvalidWorkerCoreArgumentError, InvalidWorkerCoreConfigError, WorkerCoreClosedError, WorkerCoreSchemaMissingError } from './errors.ts';
import type { BindingName, CoreStats, DrainResult, WorkerCoreConfig } from './types.ts';
import { MAX_TIMER_MS } from '../timer.ts';

/** A native core answered JSON that does not have the shape the wire format promises. */
export class WireFormatError extends TaskerError {
  constructor(message: string) {
    super('BINDING_WIRE_INVALID', message);
  }
}

/** The `error` of a failed call of the native core (native/src/error.rs, `CoreError`). */
export interface NativeErrorBody {
  code: string;
  message: string;
  /** SQLSTATE of a database error, e.g. `TK007`. */
  sqlState?: string;
  /** The database's DETAIL (JSON naming the field, for the protocol's own errors). */
  detail?: string;
}

/**
 * A failure of the native core that no more specific SDK error describes. `code` is the core's
 * own (`UNKNOWN_HANDLE`, `INVALID_JSON`, `DB_ERROR`, `PANIC`…, native/src/error.rs).
 */
export class NativeCoreError extends TaskerError {
  constructor(
    code: string,
    message: string,
    /** The native function or method that failed, e.g. `tasker_core_report`. */
    readonly operation: string,
    readonly sqlState?: string,
    readonly detail?: string,
  ) {
    super(code, `${operation}: ${message}`);
  }
}

/** Checks the shape of an error body; undefined when it is not one. */
export function nativeErrorBody(value: unknown): NativeErrorBody | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { code, message, sqlState, detail } = value as Record<string, unknown>;
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  return {
    code,
    message,
    ...(typeof sqlState === 'string' ? { sqlState } : {}),
    ...(typeof detail === 'string' ? { detail } : {}),
  };
}

/**
 * The error the `pg` binding would throw for the same failure, so callers branch on the same
 * classes whichever binding runs: protocol SQLSTATEs (TK…) become the typed protocol errors,
 * `CORE_CLOSED` a WorkerCoreClosedError, `CONFIG_INVALID` an InvalidWorkerCoreConfigError,
 * `DB_CONNECTION_FAILED` a DatabaseConnectionError, `SCHEMA_MISSING` a WorkerCoreSchemaMissingError;
 * anything else a {@link NativeCoreError}.
 */
export function nativeError(body: NativeErrorBody, operation: string): TaskerError {
  const native = new NativeCoreError(body.code, body.message, operation, body.sqlState, body.detail);
  if (body.sqlState !== undefined) {
    const translated = translateProtocolError({ code: body.sqlState, message: body.message, detail: body.detail });
    if (translated instanceof TaskerError) return translated;
  }
  switch (body.code) {
    case 'CORE_CLOSED':
      return new WorkerCoreClosedError();
    case 'CONFIG_INVALID':
      return new InvalidWorkerCoreConfigError('config', body.message);
    case 'DB_CONNECTION_FAILED':
      return new DatabaseConnectionError(`Worker core: ${body.message}`, { cause: native });
    case 'SCHEMA_MISSING':
      return new WorkerCoreSchemaMissingError(body.message);
    default:
      return native;
  }
}

/** The JSON text of a config, as `tasker_core_create` and the napi constructor take it. */
export function configToWire(config: WorkerCoreConfig): string {
  return JSON.stringify(config);
}

/**
 * Refuses what cannot be a report before it reaches a core (every binding calls this): the
 * cores' own checks would otherwise answer a missing report with a TypeError or a native error.
 */
export function checkReportArgument(report: unknown): asserts report is StepReport {
  if (typeof report !== 'object' || report === null || typeof (report as { stepId?: unknown }).stepId !== 'string') {
    throw new InvalidWorkerCoreArgumentError(`report(report): expected a StepReport with a stepId, got ${describe(report)}`);
  }
}

/**
 * Checks abandon()'s arguments alike in every binding (a native face would truncate 1.5 to 1 or
 * cut an id at a NUL): a step id without NUL and an attempt that is a positive 32-bit integer.
 */
export function checkAbandonArguments(stepId: unknown, attempt: unknown): void {
  if (typeof stepId !== 'string' || stepId === '' || stepId.includes('\0')) {
    throw new InvalidWorkerCoreArgumentError(`abandon(stepId): must be a step id, got ${JSON.stringify(stepId)}`);
  }
  if (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1 || attempt > 2 ** 31 - 1) {
    throw new InvalidWorkerCoreArgumentError(`abandon(attempt): must be a positive integer, got ${String(attempt)}`);
  }
}

/** The JSON text of a report. */
export function reportToWire(report: StepReport): string {
  checkReportArgument(report);
  return JSON.stringify(report);
}

/** `[ClaimedStep]` as JSON (timestamps as strings) → `ClaimedStep[]`. */
export function claimedStepsFromWire(value: unknown, where = 'next()'): ClaimedStep[] {
  if (!Array.isArray(value)) throw new WireFormatError(`${where}: expected an array of steps, got ${describe(value)}`);
  return value.map((item: unknown, index) => claimedStepFromWire(item, `${where}[${index}]`));
}

/** One claimed step as JSON → `ClaimedStep`. */
export function claimedStepFromWire(value: unknown, where = 'step'): ClaimedStep {
  const o = object(value, where);
  return {
    msgId: number(o, 'msgId', where),
    taskId: string(o, 'taskId', where),
    stepId: string(o, 'stepId', where),
    stepName: string(o, 'stepName', where),
    handler: string(o, 'handler', where),
    stepType: string(o, 'stepType', where) as StepType,
    attempt: number(o, 'attempt', where),
    maxAttempts: number(o, 'maxAttempts', where),
    delivery: number(o, 'delivery', where),
    timeoutMs: number(o, 'timeoutMs', where),
    leaseExpiresAt: date(o, 'leaseExpiresAt', where),
    namespace: string(o, 'namespace', where),
    taskName: string(o, 'taskName', where),
    taskVersion: string(o, 'taskVersion', where),
    correlationId: string(o, 'correlationId', where),
    context: jsonObject(o, 'context', where),
    inputs: jsonObject(o, 'inputs', where),
    dependencyResults: jsonObject(o, 'dependencyResults', where),
    successors: stringArray(o.successors, `${where}.successors`),
    dependencyNames: stringArray(o.dependencyNames, `${where}.dependencyNames`),
  };
}

/** `ReportResult` as JSON → `ReportResult`. */
export function reportResultFromWire(value: unknown, where = 'report()'): ReportResult {
  const o = object(value, where);
  return {
    stepId: string(o, 'stepId', where),
    accepted: boolean(o, 'accepted', where),
    reason: nullableString(o, 'reason', where),
    stepState: nullableString(o, 'stepState', where) as StepState | null,
    taskState: nullableString(o, 'taskState', where) as TaskState | null,
    nextRetryAt: nullableDate(o, 'nextRetryAt', where),
    enqueued: number(o, 'enqueued', where),
  };
}

const STATS_COUNTERS = [
  'claimed',
  'discarded',
  'deferred',
  'claimRoundTrips',
  'reported',
  'rejected',
  'reportRoundTrips',
  'reportRetries',
  'leaseExtensions',
  'released',
  'reconnects',
  'buffered',
  'inFlight',
  'claimSize',
] as const satisfies readonly (keyof CoreStats)[];

/**
 * `CoreStats` as JSON → `CoreStats`. `binding` is set by the adapter (the same Rust core answers
 * for napi and ffi), whatever the JSON says.
 */
export function coreStatsFromWire(value: unknown, binding: BindingName, where = 'stats()'): CoreStats {
  const o = object(value, where);
  const stats = { binding } as CoreStats;
  for (const key of STATS_COUNTERS) stats[key] = number(o, key, where);
  return stats;
}

/** `DrainResult` as JSON → `DrainResult`. */
export function drainResultFromWire(value: unknown, where = 'drain()'): DrainResult {
  const o = object(value, where);
  return { abandoned: number(o, 'abandoned', where), released: number(o, 'released', where) };
}

/** `["step id", …]` → `string[]`. */
export function stepIdsFromWire(value: unknown, where = 'takeAborted()'): string[] {
  return stringArray(value, where);
}

/** `{"handle": n}` (what `tasker_core_create` answers) → n. */
export function handleFromWire(value: unknown, where = 'create'): number {
  const handle = number(object(value, where), 'handle', where);
  if (!Number.isSafeInteger(handle) || handle < 0) throw new WireFormatError(`${where}: handle ${handle} is not a non-negative safe integer`);
  return handle;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WireFormatError(`${where}: expected an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function field(o: Record<string, unknown>, key: string, where: string, expected: string, ok: (v: unknown) => boolean): unknown {
  const v = o[key];
  if (!ok(v)) throw new WireFormatError(`${where}.${key}: expected ${expected}, got ${describe(v)}`);
  return v;
}

function string(o: Record<string, unknown>, key: string, where: string): string {
  return field(o, key, where, 'a string', (v) => typeof v === 'string') as string;
}

function nullableString(o: Record<string, unknown>, key: string, where: string): string | null {
  return (field(o, key, where, 'a string or null', (v) => v === null || v === undefined || typeof v === 'string') as string | null | undefined) ?? null;
}

function number(o: Record<string, unknown>, key: string, where: string): number {
  return field(o, key, where, 'a number', (v) => typeof v === 'number' && Number.isFinite(v)) as number;
}

function boolean(o: Record<string, unknown>, key: string, where: string): boolean {
  return field(o, key, where, 'a boolean', (v) => typeof v === 'boolean') as boolean;
}

function toDate(text: string, where: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new WireFormatError(`${where}: ${JSON.stringify(text)} is not an ISO-8601 timestamp`);
  return d;
}

function date(o: Record<string, unknown>, key: string, where: string): Date {
  return toDate(string(o, key, where), `${where}.${key}`);
}

function nullableDate(o: Record<string, unknown>, key: string, where: string): Date | null {
  const text = nullableString(o, key, where);
  return text === null ? null : toDate(text, `${where}.${key}`);
}

function jsonObject(o: Record<string, unknown>, key: string, where: string): JsonObject {
  const v = o[key];
  if (v === null || v === undefined) return {};
  return object(v, `${where}.${key}`) as JsonObject;
}

function stringArray(value: unknown, where: string): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v: unknown) => typeof v === 'string')) {
    throw new WireFormatError(`${where}: expected an array of strings, got ${describe(value)}`);
  }
  return value as string[];
}

/** Largest value a `u32` parameter of the native core takes. */
export const U32_MAX = 0xffff_ffff;

/**
 * A JS number as a `u32` argument of the native core (napi or C ABI): truncated, clamped to
 * [0, 2^32 − 1]; NaN becomes 0. The boundary would otherwise wrap a negative count or timeout
 * into a huge one, or reject it.
 */
export function toU32(value: number): number {
  if (Number.isNaN(value)) return 0;
  return Math.min(U32_MAX, Math.max(0, Math.trunc(value)));
}

/**
 * drain()'s timeout as every binding takes it: Infinity (or anything past setTimeout's limit,
 * about 24.8 days) waits that long, so "wait until done" means the same on pg, napi and ffi; NaN
 * and negative values are 0.
 */
export function drainTimeoutMs(value: number): number {
  return Math.min(toU32(value), MAX_TIMER_MS);
}
