/** permanent_failure: a step fails for good in the middle of a DAG while a sibling is running. */
import type { Scenario } from '../scenario.ts';
import { CANCELLED_BEFORE_START, collectStep, RAN_ONCE, step, template } from './template.ts';

export const permanentFailure: Scenario = {
  name: 'permanent_failure',
  description:
    'charge fails permanently mid-DAG: the task errors at once, every step not started is cancelled, and the sibling running at that moment is aborted',
  template: template('permanent_failure', 'an order whose payment is declined', [
    collectStep('prepare', [], 1),
    // Both gated, so that the sibling is surely running when charge fails.
    step('hold', 'cf.gate', { dependencies: ['prepare'] }),
    step('report_sales', 'cf.gate', { dependencies: ['prepare'] }),
    step('charge', 'cf.fail', { dependencies: ['hold'], retry: { max_attempts: 3, backoff_ms: 0, max_backoff_ms: 0 } }),
    collectStep('ship', ['charge'], 2),
    collectStep('notify', ['ship'], 3),
    collectStep('audit', ['prepare', 'charge'], 4),
  ]),
  tasks: [{ label: 'task' }],
  script: [
    { do: 'create' },
    { do: 'waitForStep', task: 'task', step: 'report_sales', state: 'in_progress' },
    { do: 'waitForStep', task: 'task', step: 'hold', state: 'in_progress' },
    { do: 'openGate', worker: 'main', task: 'task', step: 'hold' },
    { do: 'waitForTasks' },
    // The running sibling learns from its heartbeat that the task failed; its handler is aborted.
    { do: 'waitForReport', worker: 'main', task: 'task', step: 'report_sales', attempt: 1 },
  ],
  observe: ['reports'],
  expect: {
    tasks: {
      task: {
        state: 'error',
        steps: {
          prepare: { state: 'complete', path: [...RAN_ONCE] },
          hold: { state: 'complete', result: { gate: 'opened', attempt: 1, sum: 0 } },
          charge: {
            state: 'error',
            attempt: 1,
            completions: 0,
            error: { kind: 'PermanentError', message: 'card declined', final_reason: 'permanent failure', details: { code: 'do_not_honor', step: 'charge' } },
          },
          report_sales: { state: 'error', completions: 0, error: { kind: 'StepCancelled', final_reason: 'not retried: task is error' } },
          ship: { state: 'cancelled', path: [...CANCELLED_BEFORE_START] },
          notify: { state: 'cancelled', path: [...CANCELLED_BEFORE_START] },
          audit: { state: 'cancelled', path: [...CANCELLED_BEFORE_START] },
        },
      },
    },
    ordering: [],
    observations: {
      reports: [
        { task: 'task', step: 'charge', attempt: 1, delivery: 1, worker: 'main', outcome: 'permanent_failure', kind: 'PermanentError', accepted: true, reason: 'permanent failure' },
        { task: 'task', step: 'hold', attempt: 1, delivery: 1, worker: 'main', outcome: 'success', kind: null, accepted: true, reason: null },
        { task: 'task', step: 'prepare', attempt: 1, delivery: 1, worker: 'main', outcome: 'success', kind: null, accepted: true, reason: null },
        // The sibling aborted by the heartbeat: its report ends it, the task having failed.
        { task: 'task', step: 'report_sales', attempt: 1, delivery: 1, worker: 'main', outcome: 'retryable_failure', kind: 'StepCancelled', accepted: true, reason: 'not retried: task is error' },
      ],
    },
  },
};
