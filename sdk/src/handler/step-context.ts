/**
 * The step context: everything a handler gets about the step it runs, built from the claimed
 * step. Type parameters describe the task context and the dependency results so handlers read
 * them typed; the values are what the database returned (the types are a promise the template
 * makes, not a check).
 */
import type { ClaimedStep, JsonObject, JsonValue } from '../protocol/types.ts';
import { batchItemOf, batchResultsOf, type BatchItem } from './batch-context.ts';
import { UnknownDependencyError } from './errors.ts';
import type { StepLogger } from './logger.ts';

/**
 * What a handler receives. `TContext` types the task context and `TDeps` the results of the
 * step's dependencies by step name; declare them with `type` aliases (an `interface` has no index
 * signature, so it does not satisfy `JsonObject`).
 *
 * @example
 * type Deps = { validate_order: { total: number } };
 * defineHandler<{ orderId: number }, Deps>('shop.charge', (ctx) => {
 *   const { total } = ctx.dependencyResult('validate_order');
 *   return { charged: total, order: ctx.context.orderId };
 * });
 */
export interface StepContext<
  TContext extends JsonObject = JsonObject,
  TDeps extends Record<string, JsonValue> = Record<string, JsonValue>,
> {
  readonly taskId: string;
  readonly stepId: string;
  readonly stepName: string;
  readonly handlerName: string;
  readonly namespace: string;
  readonly taskName: string;
  readonly taskVersion: string;
  readonly correlationId: string;
  /** The task context (the input the task was created with). */
  readonly context: TContext;
  /** The step's static inputs from the template. */
  readonly inputs: JsonObject;
  /** Results of the step's completed dependencies, by step name. */
  readonly dependencyResults: Readonly<TDeps>;
  /**
   * The step's `dependencies` in its template: a convergence step names the batch worker step
   * (`process_chunk`), not its instances; a dependency a decision skipped is named but has no result.
   */
  readonly dependencyNames: readonly string[];
  /**
   * Typed getter; throws UnknownDependencyError when the step has no result of that name, saying
   * whether the name is not a dependency at all or a dependency without a result (skipped).
   */
  dependencyResult<K extends keyof TDeps & string>(stepName: K): TDeps[K];
  /**
   * In a step after a batch worker step (a convergence step): the result of every instance of
   * `workerStepName`, in the order of the items the batch step fanned out; `[]` when there were
   * none. Throws UnknownDependencyError when the name is not one of this step's template
   * dependencies, and NotABatchWorkerStepError when it is an ordinary dependency with a result.
   */
  batchResults<T = JsonValue>(workerStepName: string): T[];
  /** In a batch instance: its item, index and the batch size. Throws NotABatchInstanceError elsewhere. */
  batchItem<T = JsonValue>(): BatchItem<T>;
  /** This attempt, from 1. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** True when a retryable failure now would end the step (no attempts left). */
  readonly isLastAttempt: boolean;
  /** The step's timeout; `signal` aborts with a StepTimeoutError when it passes. */
  readonly timeoutMs: number;
  /** Names of the steps depending on this one (a decision chooses among them). */
  readonly successors: readonly string[];
  /** Aborts on timeout, task cancellation and worker shutdown; `signal.reason` says which. */
  readonly signal: AbortSignal;
  readonly logger: StepLogger;
}

/** Builds the context a handler receives for one claimed step. */
export function createStepContext(step: ClaimedStep, options: { signal: AbortSignal; logger: StepLogger }): StepContext {
  const dependencyResults: Readonly<Record<string, JsonValue>> = Object.freeze({ ...step.dependencyResults });
  const dependencyNames: readonly string[] = Object.freeze([...step.dependencyNames]);
  return Object.freeze({
    taskId: step.taskId,
    stepId: step.stepId,
    stepName: step.stepName,
    handlerName: step.handler,
    namespace: step.namespace,
    taskName: step.taskName,
    taskVersion: step.taskVersion,
    correlationId: step.correlationId,
    context: step.context,
    inputs: step.inputs,
    dependencyResults,
    dependencyNames,
    dependencyResult(stepName: string): JsonValue {
      if (!Object.hasOwn(dependencyResults, stepName)) {
        throw new UnknownDependencyError(step.stepName, stepName, Object.keys(dependencyResults), dependencyNames);
      }
      return dependencyResults[stepName] as JsonValue;
    },
    batchResults: <T = JsonValue>(workerStepName: string): T[] =>
      batchResultsOf<T>(step.stepName, dependencyResults, dependencyNames, workerStepName),
    batchItem: <T = JsonValue>(): BatchItem<T> => batchItemOf<T>(step.stepName, step.inputs),
    attempt: step.attempt,
    maxAttempts: step.maxAttempts,
    isLastAttempt: step.attempt >= step.maxAttempts,
    timeoutMs: step.timeoutMs,
    successors: Object.freeze([...step.successors]),
    signal: options.signal,
    logger: options.logger,
  });
}
