/**
 * worker_killed: the worker running a step is killed with SIGKILL. Its lease expires, the step
 * is delivered again to another worker, and it completes exactly once, on the same attempt.
 */
import type { Scenario } from '../scenario.ts';
import { collectStep, RAN_ONCE, step, template } from './template.ts';

export const workerKilled: Scenario = {
  name: 'worker_killed',
  description: 'SIGKILL mid-step: the 2 s lease expires, a second worker gets the step (delivery 2, same attempt) and it completes exactly once',
  template: template('worker_killed', 'a step whose worker dies', [step('gated', 'cf.gate'), collectStep('after', ['gated'], 1)]),
  tasks: [{ label: 'task' }],
  workers: [
    { id: 'victim', concurrency: 2, core: { leaseSeconds: 2, heartbeatMs: 500 } },
    { id: 'rescuer', core: { pollIntervalMs: 200 } },
  ],
  script: [
    { do: 'startWorker', worker: 'victim' },
    { do: 'create' },
    { do: 'waitForStep', task: 'task', step: 'gated', state: 'in_progress', claimedBy: 'victim' },
    { do: 'kill', worker: 'victim' },
    { do: 'startWorker', worker: 'rescuer' },
    { do: 'openGate', worker: 'rescuer', task: 'task', step: 'gated' },
    { do: 'waitForTasks' },
  ],
  observe: ['reports', 'workerExits'],
  timeoutMs: 90_000,
  expect: {
    tasks: {
      task: {
        state: 'complete',
        steps: {
          gated: {
            state: 'complete',
            attempt: 1,
            deliveries: 2,
            completions: 1,
            path: ['pending 1/0', 'enqueued 1/0', 'in_progress 1/1', 'in_progress 1/2', 'complete 1/2'],
            result: { gate: 'opened', attempt: 1, sum: 0 },
            error: null,
          },
          after: { state: 'complete', completions: 1, path: [...RAN_ONCE] },
        },
      },
    },
    ordering: [],
    observations: {
      reports: [
        { task: 'task', step: 'after', attempt: 1, delivery: 1, worker: 'rescuer', outcome: 'success', kind: null, accepted: true, reason: null },
        { task: 'task', step: 'gated', attempt: 1, delivery: 2, worker: 'rescuer', outcome: 'success', kind: null, accepted: true, reason: null },
      ],
      workerExits: { victim: 'SIGKILL', rescuer: 0 },
    },
  },
};
