/**
 * late_report: a worker's lease expires while its handler is still running (its heartbeat is
 * off), another worker takes the step and completes it, and then the first worker reports. The
 * late report is rejected and the step stays completed exactly once, with the second result.
 */
import type { Scenario } from '../scenario.ts';
import { step, template } from './template.ts';

export const lateReport: Scenario = {
  name: 'late_report',
  description: 'a report sent after the lease expired and the step was completed elsewhere is rejected; the step completes exactly once',
  template: template('late_report', 'a step whose first worker stalls', [step('gated', 'cf.gate')]),
  tasks: [{ label: 'task' }],
  workers: [
    // No heartbeat and no polling: the lease lapses while the handler runs, and this worker
    // cannot claim the step back itself (a claim by the same worker would adopt the new lease).
    { id: 'stalled', concurrency: 1, core: { leaseSeconds: 2, heartbeatMs: 600_000, pollIntervalMs: 600_000 } },
    { id: 'rescuer', core: { pollIntervalMs: 200 } },
  ],
  script: [
    // The task exists before the stalled worker starts: its first claim takes the step, with no
    // notification to miss (it does not poll).
    { do: 'create' },
    { do: 'startWorker', worker: 'stalled' },
    { do: 'waitForStep', task: 'task', step: 'gated', state: 'in_progress', claimedBy: 'stalled' },
    { do: 'startWorker', worker: 'rescuer' },
    { do: 'openGate', worker: 'rescuer', task: 'task', step: 'gated' },
    { do: 'waitForStep', task: 'task', step: 'gated', state: 'complete' },
    { do: 'openGate', worker: 'stalled', task: 'task', step: 'gated' },
    { do: 'waitForReport', worker: 'stalled', task: 'task', step: 'gated', attempt: 1 },
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
          },
        },
      },
    },
    ordering: [],
    observations: {
      reports: [
        { task: 'task', step: 'gated', attempt: 1, delivery: 1, worker: 'stalled', outcome: 'success', kind: null, accepted: false, reason: 'step is complete' },
        { task: 'task', step: 'gated', attempt: 1, delivery: 2, worker: 'rescuer', outcome: 'success', kind: null, accepted: true, reason: null },
      ],
      workerExits: { stalled: 0, rescuer: 0 },
    },
  },
};
