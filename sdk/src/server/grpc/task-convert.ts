/**
 * Tasks as the client returns them (TaskInfo) and tasker.v1 messages, both ways where needed:
 * states are enums in the protocol and strings in TypeScript; results are google.protobuf.Value,
 * contexts and errors google.protobuf.Struct; times are Timestamps (unset when null).
 */
import { create, fromJson, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate, ValueSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import type { StepInfo, TaskInfo, TaskSummary } from '../../client/task-info.ts';
import {
  StepState as ProtoStepState,
  TaskSchema,
  TaskState as ProtoTaskState,
  type StepSchema,
  type Task,
} from '../../gen/tasker/v1/tasks_pb.ts';
import type { StepState, TaskState } from '../../protocol/types.ts';

const TASK_STATES: Record<TaskState, ProtoTaskState> = {
  pending: ProtoTaskState.PENDING,
  in_progress: ProtoTaskState.IN_PROGRESS,
  complete: ProtoTaskState.COMPLETE,
  error: ProtoTaskState.ERROR,
  cancelled: ProtoTaskState.CANCELLED,
};

const STEP_STATES: Record<StepState, ProtoStepState> = {
  pending: ProtoStepState.PENDING,
  enqueued: ProtoStepState.ENQUEUED,
  in_progress: ProtoStepState.IN_PROGRESS,
  waiting_for_retry: ProtoStepState.WAITING_FOR_RETRY,
  complete: ProtoStepState.COMPLETE,
  error: ProtoStepState.ERROR,
  cancelled: ProtoStepState.CANCELLED,
  skipped: ProtoStepState.SKIPPED,
};

export function taskStateToProto(state: TaskState): ProtoTaskState {
  return TASK_STATES[state] ?? ProtoTaskState.UNSPECIFIED;
}

/** The TypeScript state of a protocol enum value; undefined for UNSPECIFIED or unknown numbers. */
export function taskStateFromProto(state: ProtoTaskState): TaskState | undefined {
  return (Object.keys(TASK_STATES) as TaskState[]).find((key) => TASK_STATES[key] === state);
}

function time(date: Date | null): Timestamp | undefined {
  return date === null ? undefined : timestampFromDate(date);
}

function step(info: StepInfo): MessageInitShape<typeof StepSchema> {
  return {
    stepId: info.stepId,
    name: info.name,
    handler: info.handler,
    type: info.type,
    state: STEP_STATES[info.state] ?? ProtoStepState.UNSPECIFIED,
    attempt: info.attempt,
    maxAttempts: info.maxAttempts,
    deliveries: info.deliveries,
    dependencies: info.dependencies,
    // A step that has not completed has no result: the field stays unset, not a JSON null.
    ...(info.result === null ? {} : { result: fromJson(ValueSchema, info.result) }),
    ...(info.error === null ? {} : { error: info.error }),
    ...(info.claimedBy === null ? {} : { claimedBy: info.claimedBy }),
    leaseExpiresAt: time(info.leaseExpiresAt),
    nextRetryAt: time(info.nextRetryAt),
    enqueuedAt: time(info.enqueuedAt),
    startedAt: time(info.startedAt),
    finishedAt: time(info.finishedAt),
  };
}

/** A task; with its steps when given a TaskInfo, without for a TaskSummary (ListTasks). */
export function taskToProto(task: TaskInfo | TaskSummary): Task {
  const stepCounts: Record<string, number> = {};
  for (const [state, count] of Object.entries(task.stepCounts)) if (typeof count === 'number') stepCounts[state] = count;
  return create(TaskSchema, {
    taskId: task.taskId,
    namespace: task.namespace,
    name: task.name,
    version: task.version,
    state: taskStateToProto(task.state),
    context: task.context,
    tags: task.tags,
    priority: task.priority,
    ...(task.idempotencyKey === null ? {} : { idempotencyKey: task.idempotencyKey }),
    correlationId: task.correlationId,
    ...(task.initiator === null ? {} : { initiator: task.initiator }),
    createdAt: timestampFromDate(task.createdAt),
    updatedAt: timestampFromDate(task.updatedAt),
    finishedAt: time(task.finishedAt),
    stepCounts,
    steps: 'steps' in task ? task.steps.map(step) : [],
  });
}
