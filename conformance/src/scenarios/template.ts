/**
 * Helpers for writing scenario templates in code (the 50-step fan-out would be a long YAML file).
 * Every step defaults to a single attempt, so that a failure nobody planned shows up at once as
 * a failed step instead of hiding behind retries and their backoff.
 */
import type { JsonObject, TaskTemplate, TemplateStep } from '@tasker/sdk';

/** A template named `flow`, version 1.0.0, in the scenario's namespace. */
export function template(namespace: string, description: string, steps: TemplateStep[]): TaskTemplate {
  return { namespace, name: 'flow', version: '1.0.0', description, steps };
}

/** A step with one attempt unless `extra` says otherwise. */
export function step(name: string, handler: string, extra: Partial<TemplateStep> = {}): TemplateStep {
  return { name, handler, retry: { max_attempts: 1, backoff_ms: 0, max_backoff_ms: 0 }, ...extra };
}

/** A `cf.collect` step: its sum is `value` plus the sums of `dependencies`, which it expects to receive. */
export function collectStep(name: string, dependencies: string[], value: number, inputs: JsonObject = {}): TemplateStep {
  return step(name, 'cf.collect', {
    ...(dependencies.length === 0 ? {} : { dependencies }),
    inputs: { expects: dependencies, value, ...inputs },
  });
}

/** The state path of a step that ran once, first try: every step starts pending. */
export const RAN_ONCE: readonly string[] = ['pending 1/0', 'enqueued 1/0', 'in_progress 1/1', 'complete 1/1'];

/** The state path of a step cancelled before it started. */
export const CANCELLED_BEFORE_START: readonly string[] = ['pending 1/0', 'cancelled 1/0'];
