/** cancellation: a task is cancelled while one of its steps is running. */
import type { Scenario } from '../scenario.ts';
import { CANCELLED_BEFORE_START, collectStep, step, template } from './template.ts';

export const cancellation: Scenario = {
  name: 'cancellation',
  description:
    'cancelling a task with a step in flight aborts the running handler (StepCancelled) and cancels the steps not started; nothing runs afterwards',
  template: template('cancellation', 'a long step and what follows it', [
    step('long', 'cf.gate'),
    collectStep('after', ['long'], 1),
  ]),
  tasks: [{ label: 'task' }],
  script: [
    { do: 'create' },
    { do: 'waitForStep', task: 'task', step: 'long', state: 'in_progress' },
    { do: 'cancel', task: 'task' },
    { do: 'waitForTasks' },
    { do: 'waitForReport', worker: 'main', task: 'task', step: 'long', attempt: 1 },
  ],
  observe: ['reports'],
  expect: {
    tasks: {
      task: {
        state: 'cancelled',
        steps: {
          long: { state: 'error', completions: 0, result: null, error: { kind: 'StepCancelled', final_reason: 'not retried: task is cancelled' } },
          after: { state: 'cancelled', path: [...CANCELLED_BEFORE_START] },
        },
      },
    },
    ordering: [],
    observations: {
      // The aborted handler's report is accepted and ends the step: the task is cancelled.
      reports: [
        { task: 'task', step: 'long', attempt: 1, delivery: 1, worker: 'main', outcome: 'retryable_failure', kind: 'StepCancelled', accepted: true, reason: 'not retried: task is cancelled' },
      ],
    },
  },
};
