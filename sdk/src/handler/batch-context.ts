/**
 * The batch views of a claimed step: an instance's item (ctx.batchItem) and, in a convergence
 * step, every instance's result in item order (ctx.batchResults). The database names instance i
 * of worker step W "W[i]" and gives it the inputs batch_item, batch_index and batch_size
 * (migrations/0010_batch_fan_out.sql); template step names cannot contain brackets, so the name
 * alone tells an instance from any other step.
 */
import type { JsonObject, JsonValue } from '../protocol/types.ts';
import { NotABatchInstanceError, NotABatchWorkerStepError, UnknownDependencyError } from './errors.ts';

const INSTANCE_NAME = /^([a-z][a-z0-9_]*)\[(\d+)\]$/;

/** What a batch instance works on. */
export interface BatchItem<T = JsonValue> {
  /** The item the batch step's fanOut(...) listed for this instance. */
  readonly item: T;
  /** Its position in that list, from 0. */
  readonly index: number;
  /** How many items the batch has. */
  readonly size: number;
  /** The batch worker step's name in the template (`process_chunk` for `process_chunk[3]`). */
  readonly workerStepName: string;
}

/** The item of batch instance `stepName`; throws NotABatchInstanceError for any other step. */
export function batchItemOf<T>(stepName: string, inputs: JsonObject): BatchItem<T> {
  const match = INSTANCE_NAME.exec(stepName);
  const index = inputs['batch_index'];
  const size = inputs['batch_size'];
  if (match === null || typeof index !== 'number' || typeof size !== 'number' || !Object.hasOwn(inputs, 'batch_item')) {
    throw new NotABatchInstanceError(stepName);
  }
  return { item: inputs['batch_item'] as T, index, size, workerStepName: match[1] as string };
}

/**
 * The results of the instances of `workerStepName` among a step's dependency results, in item
 * order; empty when the batch had no items. Throws NotABatchWorkerStepError when the name is one
 * of the step's ordinary dependencies with a result (e.g. the batch step itself), and
 * UnknownDependencyError when it is not among the step's template dependencies (a misspelt name
 * would otherwise look like an empty batch).
 */
export function batchResultsOf<T>(
  stepName: string,
  dependencyResults: Readonly<Record<string, JsonValue>>,
  dependencyNames: readonly string[],
  workerStepName: string,
): T[] {
  if (Object.hasOwn(dependencyResults, workerStepName)) throw new NotABatchWorkerStepError(stepName, workerStepName);
  if (!dependencyNames.includes(workerStepName)) {
    throw new UnknownDependencyError(stepName, workerStepName, Object.keys(dependencyResults), dependencyNames);
  }
  const found: Array<{ index: number; result: JsonValue }> = [];
  for (const [name, result] of Object.entries(dependencyResults)) {
    const match = INSTANCE_NAME.exec(name);
    if (match !== null && match[1] === workerStepName) found.push({ index: Number(match[2]), result });
  }
  // Object key order is not item order: "process_chunk[10]" may come before "process_chunk[9]".
  return found.sort((a, b) => a.index - b.index).map((entry) => entry.result as T);
}
