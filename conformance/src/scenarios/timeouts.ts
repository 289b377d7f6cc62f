/** timeouts: a step times out while its handler honours the abort, another while its handler ignores it. */
import type { Scenario } from '../scenario.ts';
import { step, template } from './template.ts';

const TIMEOUT_MS = 1_000;
const timeoutError = {
  kind: 'StepTimeout',
  message: `the step did not finish within its timeout of ${TIMEOUT_MS} ms`,
};
const timedOutThenPassed = [
  'pending 1/0',
  'enqueued 1/0',
  'in_progress 1/1',
  'waiting_for_retry 2/0',
  'in_progress 2/1',
  'complete 2/1',
];
const retry = { max_attempts: 2, backoff_ms: 0, max_backoff_ms: 0 };

export const timeouts: Scenario = {
  name: 'timeouts',
  description:
    'both first attempts time out and are reported as StepTimeout at the timeout (before 1.5 × it, when their handlers would finish), whether the handler stops (honours) or carries on (ignores, its late result discarded); both second attempts succeed',
  template: template('timeouts', 'two steps that overrun their timeout once', [
    // Both handlers finish on their own at 1.5 × the timeout: a timeout that fires later than
    // that (or never) turns the first attempt into a success, and the trace shows it.
    step('honours', 'cf.timeout_honour', { timeout_ms: TIMEOUT_MS, retry, inputs: { giveUpMs: 1_500 } }),
    step('ignores', 'cf.timeout_ignore', { timeout_ms: TIMEOUT_MS, retry, inputs: { sleepMs: 1_500 } }),
  ]),
  tasks: [{ label: 'task' }],
  observe: ['reports'],
  expect: {
    tasks: {
      task: {
        state: 'complete',
        steps: {
          honours: { state: 'complete', attempt: 2, path: timedOutThenPassed, result: { attempt: 2 }, error: timeoutError },
          ignores: { state: 'complete', attempt: 2, path: timedOutThenPassed, result: { attempt: 2 }, error: timeoutError },
        },
      },
    },
    ordering: [],
    observations: {
      reports: ['honours', 'ignores'].flatMap((name) => [
        { task: 'task', step: name, attempt: 1, delivery: 1, worker: 'main', outcome: 'retryable_failure', kind: 'StepTimeout', accepted: true, reason: null },
        { task: 'task', step: name, attempt: 2, delivery: 1, worker: 'main', outcome: 'success', kind: null, accepted: true, reason: null },
      ]),
    },
  },
};
