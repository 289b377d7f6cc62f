/**
 * executeStep: runs one claimed step's handler and turns whatever happens — a result, a
 * decision, a throw, an abort — into the report the worker sends. Every path ends in a report;
 * nothing a handler does can make the worker lose a step.
 *
 * Batch steps (`type: batch`) run like standard steps for now: fanning out into steps created at
 * run time needs support in the SQL protocol first (see docs/protocol.md, "Not yet in SQL").
 */
import { NotJsonError, toJsonValue } from '../json/to-json-value.ts';
import type { ClaimedStep, JsonValue, StepReport } from '../protocol/types.ts';
import { raceAbort, type Settlement } from './abort-race.ts';
import { isDecision } from './decision.ts';
import { describeValue, failure, failureFromAbort, failureFromThrown, type FailureReport } from './failure-report.ts';
import type { StepLogger } from './logger.ts';
import { createStepContext } from './step-context.ts';
import type { HandlerDefinition } from './step-handler.ts';

/** Options of {@link executeStep}. */
export interface ExecuteStepOptions {
  /** Aborted by the worker on timeout, cancellation or shutdown, with the matching error as reason. */
  signal: AbortSignal;
  logger: StepLogger;
  /** The names the worker has handlers for; quoted in the error when the step's handler is missing. */
  knownHandlers?: readonly string[];
}

type Outcome = Omit<StepReport, 'stepId' | 'attempt' | 'delivery'>;

/** Runs one claimed step's handler and maps the outcome to the report the worker sends. Never throws. */
export async function executeStep(
  handler: HandlerDefinition | undefined,
  step: ClaimedStep,
  options: ExecuteStepOptions,
): Promise<StepReport> {
  const lease = { stepId: step.stepId, attempt: step.attempt, delivery: step.delivery };
  try {
    return { ...lease, ...(await run(handler, step, options)) };
  } catch (error) {
    // Only a bug in this module (or a hostile value) gets here; still report, so the step is not lost.
    return { ...lease, ...failure('retryable_failure', 'InternalError', `executeStep failed: ${describeValue(error)}`) };
  }
}

async function run(handler: HandlerDefinition | undefined, step: ClaimedStep, options: ExecuteStepOptions): Promise<Outcome> {
  if (handler === undefined) return unknownHandler(step.handler, options.knownHandlers);
  // Already aborted (e.g. shutdown began while the step waited for a slot): do not start it.
  if (options.signal.aborted) return failureFromAbort(options.signal.reason);

  const ctx = createStepContext(step, options);
  const settlement = await raceAbort(() => handler.call(ctx), options.signal, (late) => reportLate(late, options));
  switch (settlement.kind) {
    case 'aborted':
      return failureFromAbort(settlement.reason);
    case 'threw':
      return failureFromThrown(settlement.error);
    case 'returned':
      return success(settlement.value, step);
  }
}

function success(value: unknown, step: ClaimedStep): Outcome {
  if (isDecision(value)) {
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
    const result = jsonResult(value.result);
    return 'failed' in result ? result.failed : { outcome: 'success', result: result.json, activate: [...value.activate] };
  }
  if (step.stepType === 'decision') {
    return failure(
      'permanent_failure',
      'InvalidDecision',
      `decision step "${step.stepName}" must return decide([...successors], result); its handler returned ${describeValue(value)}. ` +
        `Its successors are: ${step.successors.join(', ') || 'none'}`,
    );
  }
  const result = jsonResult(value);
  return 'failed' in result ? result.failed : { outcome: 'success', result: result.json };
}

function jsonResult(value: unknown): { json: JsonValue } | { failed: FailureReport } {
  if (value === undefined) return { json: null };
  try {
    return { json: toJsonValue(value, 'result') };
  } catch (error) {
    if (!(error instanceof NotJsonError)) throw error;
    return { failed: failure('permanent_failure', 'ResultNotSerializable', error.message, { path: error.path }) };
  }
}

function unknownHandler(name: string, known: readonly string[] | undefined): FailureReport {
  const registered =
    known === undefined ? '' : known.length === 0 ? '; no handlers are registered' : `; registered: ${[...known].sort().join(', ')}`;
  return failure('permanent_failure', 'UnknownHandler', `no handler named "${name}" is registered on this worker${registered}`);
}

// The step was already reported as aborted; the handler's outcome only goes to the log. A
// handler that honoured its signal (threw the abort reason, or an AbortError) did the right
// thing and gets a debug line; one that carried on gets a warning.
function reportLate(late: Exclude<Settlement, { kind: 'aborted' }>, options: ExecuteStepOptions): void {
  const reason: unknown = options.signal.reason;
  if (late.kind === 'threw' && (late.error === reason || (late.error instanceof Error && late.error.name === 'AbortError'))) {
    options.logger.debug('the handler stopped after its step was aborted', { abortReason: reason });
    return;
  }
  options.logger.warn(
    late.kind === 'returned'
      ? 'the handler returned after its step was aborted; its result was discarded'
      : 'the handler threw after its step was aborted; its error was discarded',
    late.kind === 'threw' ? { abortReason: reason, error: late.error } : { abortReason: reason },
  );
}
