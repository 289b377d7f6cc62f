/** Prints what happened to each task: per step, its state, attempts, runtime and duration. */
import type { StepInfo, TaskInfo } from '@tasker/sdk';

function runtimeOf(step: StepInfo): string {
  const worker = step.claimedBy ?? '';
  const runtime = worker.split('-')[0] ?? '';
  return ['node', 'bun', 'deno'].includes(runtime) ? runtime : worker === '' ? '-' : worker;
}

function took(step: StepInfo): string {
  if (step.startedAt === null || step.finishedAt === null) return '-';
  return `${Math.max(0, step.finishedAt.getTime() - step.startedAt.getTime())} ms`;
}

function outcome(step: StepInfo): string {
  const text = step.state === 'complete' ? JSON.stringify(step.result) : step.error === null ? '' : JSON.stringify(step.error['message'] ?? step.error);
  return text.length > 58 ? `${text.slice(0, 57)}…` : text;
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
}

const WIDTHS = [18, 9, 7, 7, 10, 40];

const INSTANCE = /^(.+)\[(\d+)\]$/;

/**
 * The task's steps with each batch instance (`process_chunk[3]`) right after its worker step, in
 * item order: getTask lists instances after the template's steps, since they were created later.
 */
export function tableOrder(steps: readonly StepInfo[]): StepInfo[] {
  const instances = new Map<string, Array<{ index: number; step: StepInfo }>>();
  const rest: StepInfo[] = [];
  for (const step of steps) {
    const match = INSTANCE.exec(step.name);
    const worker = match?.[1];
    if (worker === undefined || !steps.some((s) => s.name === worker)) {
      rest.push(step);
      continue;
    }
    const list = instances.get(worker) ?? [];
    list.push({ index: Number(match?.[2]), step });
    instances.set(worker, list);
  }
  return rest.flatMap((step) => [step, ...(instances.get(step.name) ?? []).sort((a, b) => a.index - b.index).map((i) => i.step)]);
}

/** One block per task. */
export function printTask(task: TaskInfo): void {
  const total = task.finishedAt === null ? '' : `  in ${task.finishedAt.getTime() - task.createdAt.getTime()} ms`;
  console.log(`\n${task.namespace}/${task.name}  ${task.taskId}  → ${task.state.toUpperCase()}${total}`);
  console.log(row(['step', 'state', 'attempt', 'runtime', 'claim→done', 'result / last error'], WIDTHS));
  for (const step of tableOrder(task.steps)) {
    console.log(row([step.name, step.state, String(step.attempt), runtimeOf(step), took(step), outcome(step)], WIDTHS));
  }
}

/** Steps run per runtime, over all tasks. */
export function stepsByRuntime(tasks: readonly TaskInfo[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const task of tasks) {
    for (const step of task.steps) {
      if (step.state !== 'complete') continue;
      const runtime = runtimeOf(step);
      counts[runtime] = (counts[runtime] ?? 0) + 1;
    }
  }
  return counts;
}
