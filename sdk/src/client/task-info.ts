/**
 * A task as the client returns it: `tasker.task_status` (snake_case JSON) in TypeScript terms,
 * with timestamps as Dates.
 */
import type { TaskSummaryStatus } from '../protocol/task-list.ts';
import type { JsonObject, JsonValue, StepState, StepStatus, StepType, TaskState, TaskStatus } from '../protocol/types.ts';

/** One step of a task. */
export interface StepInfo {
  stepId: string;
  name: string;
  handler: string;
  type: StepType;
  state: StepState;
  /** The current attempt (1-based); attempts are counted when a handler's run ends in a report. */
  attempt: number;
  maxAttempts: number;
  /** Claims of the current attempt. */
  deliveries: number;
  dependencies: string[];
  /** The handler's result once complete, else null. */
  result: JsonValue;
  /** The last failure: `{ kind, message, ... }`, or null. */
  error: JsonObject | null;
  /** The worker that holds (or last held) the step. */
  claimedBy: string | null;
  leaseExpiresAt: Date | null;
  nextRetryAt: Date | null;
  enqueuedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** A task and all its steps. */
export interface TaskInfo {
  taskId: string;
  namespace: string;
  name: string;
  version: string;
  state: TaskState;
  context: JsonObject;
  tags: string[];
  priority: number;
  idempotencyKey: string | null;
  correlationId: string;
  initiator: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  stepCounts: Partial<Record<StepState, number>>;
  steps: StepInfo[];
}

/** A task without its steps, as listTasks returns it. */
export type TaskSummary = Omit<TaskInfo, 'steps'>;

/** The states a task rests in until someone acts (retry). */
export const TERMINAL_TASK_STATES: readonly TaskState[] = ['complete', 'error', 'cancelled'];

/** True for complete, error and cancelled. */
export function isTerminalTaskState(state: TaskState): boolean {
  return TERMINAL_TASK_STATES.includes(state);
}

function date(value: string | null): Date | null {
  return value === null ? null : new Date(value);
}

function stepInfo(step: StepStatus): StepInfo {
  return {
    stepId: step.step_id,
    name: step.name,
    handler: step.handler,
    type: step.type,
    state: step.state,
    attempt: step.attempt,
    maxAttempts: step.max_attempts,
    deliveries: step.deliveries,
    dependencies: step.dependencies,
    result: step.results,
    error: step.last_error,
    claimedBy: step.claimed_by,
    leaseExpiresAt: date(step.lease_expires_at),
    nextRetryAt: date(step.next_retry_at),
    enqueuedAt: date(step.enqueued_at),
    startedAt: date(step.started_at),
    finishedAt: date(step.finished_at),
  };
}

/** Converts `tasker.task_status` output. */
export function toTaskInfo(status: TaskStatus): TaskInfo {
  return { ...toTaskSummary(status), steps: status.steps.map(stepInfo) };
}

/** Converts a task row without its steps (listTasks). */
export function toTaskSummary(status: TaskSummaryStatus): TaskSummary {
  return {
    taskId: status.task_id,
    namespace: status.namespace,
    name: status.name,
    version: status.version,
    state: status.state,
    context: status.context,
    tags: status.tags,
    priority: status.priority,
    idempotencyKey: status.idempotency_key,
    correlationId: status.correlation_id,
    initiator: status.initiator,
    createdAt: new Date(status.created_at),
    updatedAt: new Date(status.updated_at),
    finishedAt: date(status.finished_at),
    stepCounts: status.step_counts,
  };
}
