/**
 * Types of the SQL protocol (migrations/0002..0010): what each `tasker.*` function takes and
 * returns, in TypeScript terms. Field names follow TypeScript conventions; the SQL columns are
 * snake_case.
 */

/** Anything that can run a parameterised query: a `pg` Pool, PoolClient or Client. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** A JSON value as stored in `jsonb` columns. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** Step states (`tasker.step_state_machine`). */
export type StepState =
  | 'pending'
  | 'enqueued'
  | 'in_progress'
  | 'waiting_for_retry'
  | 'complete'
  | 'error'
  | 'cancelled'
  | 'skipped';

/** Task states (`tasker.task_state_machine`). */
export type TaskState = 'pending' | 'in_progress' | 'complete' | 'error' | 'cancelled';

/** Step types a template may declare. */
export type StepType = 'standard' | 'decision' | 'batch';

/** Retry settings of one template step; every field is optional and defaulted by the database. */
export interface RetrySettings {
  max_attempts?: number;
  backoff_ms?: number;
  max_backoff_ms?: number;
  retryable?: boolean;
}

/** One step of a task template, as registered. */
export interface TemplateStep {
  name: string;
  handler: string;
  type?: StepType;
  dependencies?: string[];
  inputs?: JsonObject;
  retry?: RetrySettings;
  timeout_ms?: number;
  max_deliveries?: number;
}

/** A task template document (the JSON form of a YAML template). */
export interface TaskTemplate {
  namespace: string;
  name: string;
  version: string;
  description?: string;
  input_schema?: JsonObject | boolean;
  steps: TemplateStep[];
}

/** Result of registering a template. */
export interface RegisteredTemplate {
  namedTaskId: string;
  namespace: string;
  name: string;
  version: string;
  /** False when an identical definition was already registered. */
  changed: boolean;
}

/** What `createTask` needs. `version` defaults to the highest registered version. */
export interface CreateTaskInput {
  namespace: string;
  name: string;
  version?: string;
  context?: JsonObject;
  idempotencyKey?: string;
  correlationId?: string;
  priority?: number;
  tags?: string[];
  initiator?: string;
  /** Fail the task when it has not finished this many ms after creation (orchestrator sweep). */
  timeoutMs?: number;
  /**
   * Create the task only from the template definition with this hash (templateInputSchema's
   * `definitionHash`), else TemplateChangedError: what the context was checked against.
   */
  definitionHash?: string;
}

/** Result of creating a task. */
export interface CreatedTask {
  taskId: string;
  /** False when the idempotency key had been used: the existing task is returned. */
  created: boolean;
  state: TaskState;
}

/** Options of one claim round trip. */
export interface ClaimOptions {
  namespace: string;
  batchSize: number;
  leaseSeconds: number;
  workerId?: string;
}

/** A step handed to this worker, with everything its handler needs. */
export interface ClaimedStep {
  msgId: number;
  taskId: string;
  stepId: string;
  stepName: string;
  handler: string;
  stepType: StepType;
  attempt: number;
  maxAttempts: number;
  /** Together with `attempt`, names the lease; reports and lease extensions must quote both. */
  delivery: number;
  timeoutMs: number;
  leaseExpiresAt: Date;
  namespace: string;
  taskName: string;
  taskVersion: string;
  correlationId: string;
  context: JsonObject;
  inputs: JsonObject;
  /** Results of the completed dependencies, by step name. */
  dependencyResults: Record<string, JsonValue>;
  /** Names of the steps that depend on this one (a decision step chooses among them). */
  successors: string[];
  /**
   * The step's `dependencies` in its template. A convergence step names the batch worker step
   * (`process_chunk`), not its instances; a batch instance has its worker step's dependencies.
   */
  dependencyNames: string[];
}

/** A message the claim read but did not hand out. */
export interface UnclaimedMessage {
  msgId: number;
  /** discarded: archived, never runs; deferred: hidden until it can be decided again. */
  outcome: 'discarded' | 'deferred';
  reason: string;
}

/** Everything one claim round trip did. */
export interface ClaimResult {
  claimed: ClaimedStep[];
  unclaimed: UnclaimedMessage[];
}

/** How a handler's execution ended. */
export type ReportOutcome = 'success' | 'retryable_failure' | 'permanent_failure';

/** The report of one delivery of a step. */
export interface StepReport {
  stepId: string;
  attempt: number;
  delivery: number;
  outcome: ReportOutcome;
  result?: JsonValue;
  error?: JsonObject;
  /** Overrides the template's backoff for this retry. */
  retryAfterMs?: number;
  /** Decision steps only: the successors to run; the others are skipped. */
  activate?: string[];
  /**
   * Batch steps only (and required on their success): the items to fan out into, one instance of
   * the batch worker step each, at most 10,000. `fanOut(items, result)` in a handler sets it.
   */
  batch?: JsonValue[];
}

/** What the database did with a report. */
export interface ReportResult {
  stepId: string;
  /** False when the report lost its compare-and-swap (see `reason`); nothing changed. */
  accepted: boolean;
  reason: string | null;
  stepState: StepState | null;
  taskState: TaskState | null;
  nextRetryAt: Date | null;
  /** Successor steps this report enqueued. */
  enqueued: number;
}

/** A lease a worker holds and wants to keep. */
export interface LeaseRef {
  stepId: string;
  attempt: number;
  delivery: number;
}

/** Result of retrying a failed task. */
export interface RetriedTask {
  taskId: string;
  state: TaskState;
  /** False when the task was not in error, so nothing changed. */
  changed: boolean;
  /** Failed and cancelled steps put back to pending. */
  retriedSteps: number;
  /** Steps enqueued at once (their dependencies were done). */
  enqueuedSteps: number;
}

/** A task failed by the timeout sweeper. */
export interface TimedOutTask {
  taskId: string;
  reason: string;
}

/** Result of extending one lease. */
export interface LeaseExtension {
  stepId: string;
  extended: boolean;
  /** True when the handler should stop: the lease is gone or the task is no longer running. */
  abort: boolean;
  leaseExpiresAt: Date | null;
  taskState: TaskState | null;
}

/** Result of cancelling a task. */
export interface CancelledTask {
  taskId: string;
  state: TaskState;
  /** False when the task had already finished. */
  changed: boolean;
  cancelledSteps: number;
}

/** One action of the lease sweeper. */
export interface SweepAction {
  stepId: string;
  taskId: string;
  action: 'dead_lettered' | 'cancelled';
  reason: string;
}

/** A step as reported by `tasker.task_status`. */
export interface StepStatus {
  step_id: string;
  name: string;
  handler: string;
  type: StepType;
  state: StepState;
  attempt: number;
  max_attempts: number;
  deliveries: number;
  dependencies: string[];
  results: JsonValue;
  last_error: JsonObject | null;
  claimed_by: string | null;
  lease_expires_at: string | null;
  next_retry_at: string | null;
  enqueued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
}

/** A task and all its steps, as reported by `tasker.task_status`. */
export interface TaskStatus {
  task_id: string;
  namespace: string;
  name: string;
  version: string;
  state: TaskState;
  context: JsonObject;
  tags: string[];
  priority: number;
  idempotency_key: string | null;
  correlation_id: string;
  initiator: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  step_counts: Partial<Record<StepState, number>>;
  steps: StepStatus[];
}
