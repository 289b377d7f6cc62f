/**
 * Checks of batch steps, on a template whose steps and dependency graph are already valid: a
 * batch step has exactly one successor, its batch worker step, which depends on the batch step
 * alone and is a standard step (one instance of it runs per item the batch step fans out). The
 * steps after the worker step are the convergence steps. Same rules, order and wording as
 * tasker._check_batch_steps (migrations/0010_batch_fan_out.sql).
 */
import type { TemplateStep } from '../protocol/types.ts';
import type { TemplateChecker } from './template-checker.ts';

/** Fails on the first batch step (in template order) that breaks a rule. */
export function checkBatchSteps(checker: TemplateChecker, steps: readonly TemplateStep[]): void {
  steps.forEach((batch, batchIndex) => {
    if (batch.type !== 'batch') return;
    const successors = steps
      .map((step, index) => ({ step, index, deps: step.dependencies ?? [] }))
      .filter((s) => s.deps.includes(batch.name));
    // The worker is the first successor depending on the batch step alone, else the first one.
    const worker = successors.find((s) => s.deps.length === 1) ?? successors[0];
    if (worker === undefined) {
      checker.fail(
        ['steps', batchIndex, 'type'],
        `a batch step needs exactly one successor, its batch worker step (a step whose only dependency is "${batch.name}"); ` +
          `no step depends on "${batch.name}"`,
      );
    }
    const other = successors.find((s) => s.index !== worker.index);
    if (other !== undefined) {
      const name = other.step.name;
      checker.fail(
        ['steps', other.index, 'dependencies', other.deps.indexOf(batch.name)],
        `step "${name}" depends on batch step "${batch.name}", whose only successor must be its batch worker step ` +
          `"${worker.step.name}"; make "${name}" depend on "${worker.step.name}" instead (it then runs after every batch ` +
          `instance, with their results and the result of "${batch.name}")`,
      );
    }
    const extra = worker.deps.findIndex((dep) => dep !== batch.name);
    if (extra !== -1) {
      const name = worker.step.name;
      checker.fail(
        ['steps', worker.index, 'dependencies', extra],
        `step "${name}" is the batch worker step of "${batch.name}" and must depend on "${batch.name}" alone ` +
          `(its instances are created when "${batch.name}" completes); it also depends on "${worker.deps[extra] as string}"`,
      );
    }
    const type = worker.step.type ?? 'standard';
    if (type !== 'standard') {
      checker.fail(
        ['steps', worker.index, 'type'],
        `the batch worker step of "${batch.name}" must be a standard step (one instance of it runs per batch item), got "${type}"`,
      );
    }
  });
}
