/**
 * tasker.v1.TaskService: task intake and inspection over gRPC, Connect and gRPC-Web, served by
 * the orchestrator through a TaskerClient, so a task created here is checked and created exactly
 * as `client.createTask` does it. Requests are checked before the database sees them, so a bad
 * field is INVALID_ARGUMENT naming it rather than a database error.
 */
import { Buffer } from 'node:buffer';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import type { TaskerClient } from '../../client/client.ts';
import type { TaskService } from '../../gen/tasker/v1/tasks_pb.ts';
import type { TaskState } from '../../protocol/types.ts';
import { invalidArgument, toConnectError } from './errors.ts';
import { taskStateFromProto, taskStateToProto, taskToProto } from './task-convert.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;

export function taskServiceImpl(client: TaskerClient): ServiceImpl<typeof TaskService> {
  return {
    createTask: (request) =>
      guard(async () => {
        if (request.namespace === '') throw invalidArgument('namespace', 'is required');
        if (request.name === '') throw invalidArgument('name', 'is required');
        const timeoutMs = request.timeoutMs === undefined ? undefined : Number(request.timeoutMs);
        if (timeoutMs !== undefined && (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)) {
          throw invalidArgument('timeout_ms', `must be a positive number of milliseconds, got ${request.timeoutMs}`);
        }
        const created = await client.createTask(
          {
            namespace: request.namespace,
            name: request.name,
            context: request.context ?? {},
            priority: request.priority,
            tags: request.tags,
            ...(request.version === undefined ? {} : { version: request.version }),
            ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
            ...(request.correlationId === undefined ? {} : { correlationId: request.correlationId }),
            ...(request.initiator === undefined ? {} : { initiator: request.initiator }),
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
          },
          { validate: !request.skipValidation },
        );
        return { taskId: created.taskId, created: created.created, state: taskStateToProto(created.state) };
      }),

    getTask: (request) =>
      guard(async () => {
        const task = await client.getTask(taskId(request.taskId, 'task_id'));
        if (task === null) throw notFound(request.taskId);
        return { task: taskToProto(task) };
      }),

    cancelTask: (request) =>
      guard(async () => {
        const cancelled = await client.cancelTask(taskId(request.taskId, 'task_id'), request.reason);
        return {
          taskId: cancelled.taskId,
          state: taskStateToProto(cancelled.state),
          changed: cancelled.changed,
          cancelledSteps: cancelled.cancelledSteps,
        };
      }),

    listTasks: (request) =>
      guard(async () => {
        const limit = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize;
        if (limit < 1 || limit > MAX_PAGE_SIZE) throw invalidArgument('page_size', `must be from 1 to ${MAX_PAGE_SIZE}, got ${limit}`);
        const states = request.states.map((state): TaskState => {
          const known = taskStateFromProto(state);
          if (known === undefined) throw invalidArgument('states', `holds an unknown or unspecified state (${state})`);
          return known;
        });
        const page = await client.listTasks({
          limit,
          states,
          ...(request.namespace === '' ? {} : { namespace: request.namespace }),
          ...(request.name === '' ? {} : { name: request.name }),
          ...(request.pageToken === '' ? {} : { cursor: cursorFromToken(request.pageToken) }),
        });
        return { tasks: page.tasks.map(taskToProto), nextPageToken: page.nextCursor === null ? '' : tokenFromCursor(page.nextCursor) };
      }),
  };
}

/** Runs a handler, turning whatever it throws into a gRPC status. */
async function guard<T>(handler: () => Promise<T>): Promise<T> {
  try {
    return await handler();
  } catch (error) {
    throw toConnectError(error);
  }
}

function taskId(value: string, field: string): string {
  if (!UUID.test(value)) throw invalidArgument(field, `must be a task id (a UUID), got ${JSON.stringify(value)}`);
  return value;
}

function notFound(id: string): ConnectError {
  return new ConnectError(`unknown task ${id}`, Code.NotFound);
}

/** Page tokens are opaque to callers: the cursor (a task id), base64url-encoded. */
function tokenFromCursor(cursor: string): string {
  return Buffer.from(cursor, 'utf8').toString('base64url');
}

function cursorFromToken(token: string): string {
  const cursor = Buffer.from(token, 'base64url').toString('utf8');
  if (!UUID.test(cursor)) throw invalidArgument('page_token', 'is not a token this service issued');
  return cursor;
}
