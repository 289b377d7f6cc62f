/**
 * Handlers that choose their outcome: each attempt of `cf.flaky` follows a script, so every kind
 * of failure a handler can produce (RetryableError, a plain Error, a thrown non-Error) is
 * classified the same way in every cell; `cf.fail` fails for good.
 */
import { PermanentError, RetryableError, defineHandler, type HandlerDefinition } from '@tasker/sdk';
import { stringList } from './inputs.ts';

/**
 * `cf.flaky`: the task context's `script[attempt - 1]` says what this attempt does: `retryable` (a
 * RetryableError asking for a 20 ms delay), `type_error`, `non_error` (throws a plain object) or
 * `ok` (returns). Attempts past the end of the script succeed.
 */
export const flaky: HandlerDefinition = defineHandler('cf.flaky', (ctx) => {
  const action = stringList(ctx.context, 'script')[ctx.attempt - 1] ?? 'ok';
  switch (action) {
    case 'retryable':
      throw new RetryableError(`attempt ${ctx.attempt}: the service is busy`, { retryAfterMs: 20, details: { attempt: ctx.attempt } });
    case 'type_error':
      throw new TypeError(`attempt ${ctx.attempt}: unexpected shape`);
    case 'non_error':
      // Deliberately not an Error: the worker must still report it (as NonErrorThrown).
      throw { attempt: ctx.attempt, reason: 'thrown plain object' };
    case 'ok':
      return { attempt: ctx.attempt, failuresBefore: ctx.attempt - 1 };
    default:
      throw new PermanentError(`unknown script action ${JSON.stringify(action)}`);
  }
});

/** `cf.fail`: a permanent failure with details, whatever the attempt. */
export const fail: HandlerDefinition = defineHandler('cf.fail', (ctx) => {
  throw new PermanentError('card declined', { details: { code: 'do_not_honor', step: ctx.stepName } });
});
