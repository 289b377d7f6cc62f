/**
 * What a handler's return value becomes in the report: a plain result, a decision (decision
 * steps), or a fan-out (batch steps). The step's type decides which returns are allowed, so a
 * mistake is a permanent failure saying what to change instead of a task that hangs or runs the
 * wrong branch. The database checks the same rules (migrations/0005 and 0010) for callers of the
 * protocol that do not use this SDK.
 */
import { jsonBytesBeyond } from '../json/json-size.ts';
import { NotJsonError, toJsonValue } from '../json/to-json-value.ts';
import type { ClaimedStep, JsonValue, StepReport } from '../protocol/types.ts';
import { isDecision, type Decision } from './decision.ts';
import { isFanOut, type FanOut } from './fan-out.ts';
import { describeValue, failure, type FailureReport } from './failure-report.ts';

/** A report without its lease. */
export type Outcome = Omit<StepReport, 'stepId' | 'attempt' | 'delivery'>;

/**
 * The largest result (with a batch step's items) a step may return, as JSON: far above what a
 * step should hand on (store large data elsewhere and return a reference), and safely below the
 * 64 MiB a native core takes in one report, so every binding refuses the same results.
 */
export const MAX_RESULT_BYTES = 32 * 1024 * 1024;

/** Maps the value a handler returned for `step` to its outcome. */
export function successOutcome(value: unknown, step: ClaimedStep): Outcome {
  const outcome = shapeOutcome(value, step);
  if (outcome.outcome !== 'success') return outcome;
  const result = outcome.result ?? null;
  const bytes = jsonBytesBeyond(outcome.batch === undefined ? result : [result, outcome.batch], MAX_RESULT_BYTES);
  if (bytes <= MAX_RESULT_BYTES) return outcome;
  return failure(
    'permanent_failure',
    'ResultTooLarge',
    `step "${step.stepName}" returned a result of ${bytes} bytes of JSON, more than the ${MAX_RESULT_BYTES} a step's result may be; store large data elsewhere and return a reference to it`,
    { bytes, maxBytes: MAX_RESULT_BYTES },
  );
}

function shapeOutcome(value: unknown, step: ClaimedStep): Outcome {
  if (isDecision(value)) return decisionOutcome(value, step);
  if (isFanOut(value)) return fanOutOutcome(value, step);
  if (step.stepType === 'decision') {
    return failure(
      'permanent_failure',
      'InvalidDecision',
      `decision step "${step.stepName}" must return decide([...successors], result); its handler returned ${describeValue(value)}. ` +
        `Its successors are: ${step.successors.join(', ') || 'none'}`,
    );
  }
  if (step.stepType === 'batch') {
    return failure(
      'permanent_failure',
      'InvalidFanOut',
      `batch step "${step.stepName}" must return fanOut(items, result), one instance of its batch worker step ` +
        `(${step.successors.join(', ') || 'none'}) per item; its handler returned ${describeValue(value)}`,
    );
  }
  const result = jsonResult(value, 'result');
  return 'failed' in result ? result.failed : { outcome: 'success', result: result.json };
}

function decisionOutcome(value: Decision, step: ClaimedStep): Outcome {
  if (step.stepType !== 'decision') {
    return failure(
      'permanent_failure',
      'InvalidDecision',
      `step "${step.stepName}" returned decide(...) but is a ${step.stepType} step; declare it with type: decision in the template`,
    );
  }
  const unknown = value.activate.filter((name) => !step.successors.includes(name));
  if (unknown.length > 0) {
    return failure(
      'permanent_failure',
      'InvalidDecision',
      `decision step "${step.stepName}" chose ${unknown.map((n) => `"${n}"`).join(', ')}, which ` +
        `${unknown.length === 1 ? 'is' : 'are'} not among its successors: ${step.successors.join(', ') || 'none'}`,
    );
  }
  const result = jsonResult(value.result, 'result');
  return 'failed' in result ? result.failed : { outcome: 'success', result: result.json, activate: [...value.activate] };
}

function fanOutOutcome(value: FanOut, step: ClaimedStep): Outcome {
  if (step.stepType !== 'batch') {
    return failure(
      'permanent_failure',
      'InvalidFanOut',
      `step "${step.stepName}" returned fanOut(...) but is a ${step.stepType} step; declare it with type: batch in the template`,
    );
  }
  // The items are checked like results, with their position in the path: `batch[3].at: ...`.
  const items = jsonResult(value.items, 'batch');
  if ('failed' in items) return items.failed;
  const result = jsonResult(value.result, 'result');
  if ('failed' in result) return result.failed;
  return { outcome: 'success', result: result.json, batch: items.json as JsonValue[] };
}

function jsonResult(value: unknown, path: string): { json: JsonValue } | { failed: FailureReport } {
  if (value === undefined) return { json: null };
  try {
    return { json: toJsonValue(value, path) };
  } catch (error) {
    if (!(error instanceof NotJsonError)) throw error;
    return { failed: failure('permanent_failure', 'ResultNotSerializable', error.message, { path: error.path }) };
  }
}
