import type { StepInfo, TaskInfo } from '../../client/index.ts';
import type { JsonObject } from '../../protocol/types.ts';
import { formatTable, oneLine, truncate } from '../format-table.ts';

const CELL_WIDTH = 70;

/** `task get`'s text form: a few header lines, then one table row per step. */
export function formatTask(task: TaskInfo, now: Date = new Date()): string[] {
  const header: [string, string][] = [
    ['task', task.taskId],
    ['template', `${task.namespace}/${task.name}@${task.version}`],
    ['state', task.state],
    ['created', task.createdAt.toISOString()],
  ];
  if (task.finishedAt !== null) {
    header.push(['finished', `${task.finishedAt.toISOString()} (${formatDuration(task.finishedAt.getTime() - task.createdAt.getTime())})`]);
  }
  header.push(['correlation', task.correlationId]);
  if (task.idempotencyKey !== null) header.push(['idempotency', task.idempotencyKey]);
  header.push(['context', truncate(JSON.stringify(task.context), 200)]);
  const rows = task.steps.map((step) => [
    step.name,
    step.state,
    `${step.attempt}/${step.maxAttempts}`,
    step.claimedBy ?? '-',
    stepDuration(step, now),
    truncate(stepOutcome(step), CELL_WIDTH),
  ]);
  return [
    ...header.map(([label, value]) => `${`${label}:`.padEnd(13)}${value}`),
    '',
    ...formatTable(['STEP', 'STATE', 'ATTEMPT', 'WORKER', 'DURATION', 'RESULT / ERROR'], rows),
  ];
}

/** The result of a complete step, the last error of a failing one, or what it waits for. */
export function stepOutcome(step: StepInfo): string {
  if (step.state === 'complete') return JSON.stringify(step.result);
  if (step.error !== null) {
    const retry = step.state === 'waiting_for_retry' && step.nextRetryAt !== null ? ` (retry at ${step.nextRetryAt.toISOString()})` : '';
    return `${describeStepError(step.error)}${retry}`;
  }
  if (step.state === 'pending' && step.dependencies.length > 0) return `waits for ${step.dependencies.join(', ')}`;
  return '';
}

/** `kind: message` of a step's recorded error (`{ kind, message, ... }`). */
export function describeStepError(error: JsonObject): string {
  const kind = typeof error['kind'] === 'string' ? error['kind'] : 'error';
  const message = typeof error['message'] === 'string' ? error['message'] : JSON.stringify(error);
  // One line: it goes in table cells, watch lines and [ERROR] summaries.
  return oneLine(`${kind}: ${message}`);
}

function stepDuration(step: StepInfo, now: Date): string {
  if (step.startedAt === null) return '-';
  // Only a running step's time grows; one waiting for its retry (or enqueued again) is not running.
  if (step.finishedAt === null) return step.state === 'in_progress' ? `${formatDuration(now.getTime() - step.startedAt.getTime())}…` : '-';
  return formatDuration(step.finishedAt.getTime() - step.startedAt.getTime());
}

/** 850 ms, 1.25 s, 2m 05s. */
export function formatDuration(ms: number): string {
  const value = Math.max(0, Math.round(ms));
  if (value < 1_000) return `${value} ms`;
  if (value < 60_000) return `${(value / 1_000).toFixed(2)} s`;
  const minutes = Math.floor(value / 60_000);
  const seconds = Math.floor((value % 60_000) / 1_000);
  return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
}
