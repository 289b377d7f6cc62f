/**
 * executeStep: runs one claimed step's handler and turns whatever happens — a result, a
 * decision, a throw, an abort — into the report the worker sends. Every path ends in a report;
 * nothing a handler does can make the worker lose a step. What a returned value becomes (a
 * result, a decision, a fan-out) is success-outcome.ts's job.
 */
import { storableJson } from '../json/to-json-value.ts';
import type { ClaimedStep, JsonObject, StepReport } from '../protocol/types.ts';
import { raceAbort, type Settlement } from './abort-race.ts';
import { describeValue, failure, failureFromAbort, failureFromThrown, type FailureReport } from './failure-report.ts';
import type { StepLogger } from './logger.ts';
import { createStepContext } from './step-context.ts';
import type { HandlerDefinition } from './step-handler.ts';
import { successOutcome, type Outcome } from './success-outcome.ts';

/** Options of {@link executeStep}. */
export interface ExecuteStepOptions {
  /** Aborted by the worker on timeout, cancellation or shutdown, with the matching error as reason. */
  signal: AbortSignal;
  logger: StepLogger;
  /** The names the worker has handlers for; quoted in the error when the step's handler is missing. */
  knownHandlers?: readonly string[];
}

/** Runs one claimed step's handler and maps the outcome to the report the worker sends. Never throws. */
export async function executeStep(
  handler: HandlerDefinition | undefined,
  step: ClaimedStep,
  options: ExecuteStepOptions,
): Promise<StepReport> {
  const lease = { stepId: step.stepId, attempt: step.attempt, delivery: step.delivery };
  let outcome: Outcome;
  try {
    outcome = await run(handler, step, options);
  } catch (error) {
    // Only a bug in this module (or a hostile value) gets here; still report, so the step is not lost.
    outcome = failure('retryable_failure', 'InternalError', `executeStep failed: ${describeValue(error)}`);
  }
  // An error document quotes what the handler met (a NUL from binary data, a string cut inside
  // an emoji); PostgreSQL would refuse the whole report for one such character, and the step
  // would go unreported. A result is checked, not mended: that is the handler's data.
  if (outcome.error !== undefined) outcome = { ...outcome, error: storableJson(outcome.error) as JsonObject };
  return { ...lease, ...outcome };
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
      return successOutcome(settlement.value, step);
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
