import type { StepInfo, TaskInfo } from '../../client/index.ts';
import { formatDuration, stepOutcome } from './task-view.ts';

/** What was last shown of a task, to print only what changed since. */
export interface TaskSnapshot {
  state: string;
  /** By step id: the state shown, and `state/attempt/delivery` to notice any change. */
  steps: Map<string, { state: string; key: string }>;
}

/** Nothing shown yet: the first call of {@link describeChanges} describes everything. */
export function emptySnapshot(): TaskSnapshot {
  return { state: '', steps: new Map() };
}

/**
 * One line per change between `before` and `task` (task state, then steps in template order),
 * and the snapshot to compare the next reading with. A step counts as changed when its state,
 * attempt or delivery changed, so a redelivery of a running step shows too.
 */
export function describeChanges(before: TaskSnapshot, task: TaskInfo, at: Date = new Date()): { lines: string[]; snapshot: TaskSnapshot } {
  const time = at.toISOString().slice(11, 23);
  const width = Math.max(4, ...task.steps.map((step) => step.name.length));
  const lines: string[] = [];
  if (task.state !== before.state) {
    lines.push(`${time}  ${'task'.padEnd(width + 5)}  ${arrow(before.state, task.state)}`);
  }
  const steps: TaskSnapshot['steps'] = new Map();
  for (const step of task.steps) {
    const key = `${step.state}/${step.attempt}/${step.deliveries}`;
    steps.set(step.stepId, { state: step.state, key });
    const previous = before.steps.get(step.stepId);
    if (previous?.key === key) continue;
    lines.push(`${time}  step ${step.name.padEnd(width)}  ${arrow(previous?.state ?? '', step.state)}${details(step)}`);
  }
  return { lines, snapshot: { state: task.state, steps } };
}

function arrow(from: string, to: string): string {
  return from === '' || from === to ? to : `${from} → ${to}`;
}

function details(step: StepInfo): string {
  const parts: string[] = [];
  if (step.state !== 'pending' && step.state !== 'skipped') parts.push(`attempt ${step.attempt}/${step.maxAttempts}`);
  if (step.state === 'in_progress' && step.claimedBy !== null) parts.push(`worker ${step.claimedBy}`);
  if (step.finishedAt !== null && step.startedAt !== null) parts.push(formatDuration(step.finishedAt.getTime() - step.startedAt.getTime()));
  const outcome = step.state === 'pending' ? '' : stepOutcome(step);
  if (outcome !== '') parts.push(outcome.length > 120 ? `${outcome.slice(0, 119)}…` : outcome);
  return parts.length === 0 ? '' : `  (${parts.join(', ')})`;
}
