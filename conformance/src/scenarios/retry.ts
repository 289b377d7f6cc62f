/** retry: failures of every retryable kind, then success; and a step that runs out of attempts. */
import type { Scenario } from '../scenario.ts';
import { step, template } from './template.ts';

const report = (attempt: number, outcome: string, kind: string | null) => ({
  attempt,
  delivery: 1,
  worker: 'main',
  outcome,
  kind,
  accepted: true,
  reason: attempt === 4 && outcome !== 'success' ? 'attempts exhausted (4 of 4)' : null,
});

export const retry: Scenario = {
  name: 'retry',
  description:
    'a RetryableError, a TypeError and a thrown non-Error are each retried and the fourth attempt succeeds; four RetryableErrors exhaust the attempts',
  template: template('retry', 'a flaky call', [
    step('call', 'cf.flaky', { retry: { max_attempts: 4, backoff_ms: 10, max_backoff_ms: 10 } }),
  ]),
  tasks: [
    { label: 'recovers', context: { script: ['retryable', 'type_error', 'non_error', 'ok'] } },
    { label: 'exhausts', context: { script: ['retryable', 'retryable', 'retryable', 'retryable'] } },
  ],
  observe: ['reports'],
  expect: {
    tasks: {
      recovers: {
        state: 'complete',
        steps: {
          call: {
            state: 'complete',
            attempt: 4,
            completions: 1,
            result: { attempt: 4, failuresBefore: 3 },
            path: [
              'pending 1/0',
              'enqueued 1/0',
              'in_progress 1/1',
              'waiting_for_retry 2/0',
              'in_progress 2/1',
              'waiting_for_retry 3/0',
              'in_progress 3/1',
              'waiting_for_retry 4/0',
              'in_progress 4/1',
              'complete 4/1',
            ],
          },
        },
      },
      exhausts: {
        state: 'error',
        steps: {
          call: {
            state: 'error',
            attempt: 4,
            completions: 0,
            result: null,
            error: {
              kind: 'RetryableError',
              message: 'attempt 4: the service is busy',
              final_reason: 'attempts exhausted (4 of 4)',
              details: { attempt: 4 },
            },
          },
        },
      },
    },
    ordering: [],
    observations: {
      reports: [
        ...[1, 2, 3, 4].map((attempt) => ({ task: 'exhausts', step: 'call', ...report(attempt, 'retryable_failure', 'RetryableError') })),
        { task: 'recovers', step: 'call', ...report(1, 'retryable_failure', 'RetryableError') },
        { task: 'recovers', step: 'call', ...report(2, 'retryable_failure', 'TypeError') },
        { task: 'recovers', step: 'call', ...report(3, 'retryable_failure', 'NonErrorThrown') },
        { task: 'recovers', step: 'call', ...report(4, 'success', null) },
      ],
    },
  },
};
