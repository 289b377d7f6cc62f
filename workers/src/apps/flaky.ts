/**
 * A flaky dependency (templates/flaky_api.yaml): call_api fails with a retryable error on its
 * first two attempts and answers on the third; the retries wait for the template's backoff.
 */
import { RetryableError, defineHandler } from '@tasker/sdk';

export const callFlakyApi = defineHandler('reliability.call_flaky_api', (ctx) => {
  if (ctx.attempt < 3) {
    throw new RetryableError(`upstream unavailable (attempt ${ctx.attempt} of ${ctx.maxAttempts})`);
  }
  return { answer: 42, attempts: ctx.attempt };
});

export const storeAnswer = defineHandler<Record<string, never>, { call_api: { answer: number; attempts: number } }>(
  'reliability.store_answer',
  (ctx) => ({ stored: ctx.dependencyResult('call_api').answer }),
);

export const flakyHandlers = [callFlakyApi, storeAnswer];
