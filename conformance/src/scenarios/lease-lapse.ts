/**
 * lease_lapse: a worker stops heartbeating (its heartbeat is configured off) while its handler
 * runs; when the lease lapses by its core's clock, it stops the handler and does not report (the
 * step is someone else's by then); another worker takes the step and completes it once, under
 * the same attempt. (Before the cores kept their own lease clock, the stalled handler ran on and
 * its late report was rejected; the database's refusal of such reports is tested in
 * test/protocol.)
 */
import type { Scenario } from '../scenario.ts';
import { step, template } from './template.ts';

export const leaseLapse: Scenario = {
  name: 'lease_lapse',
  description:
    'a worker whose lease lapses (heartbeat off) stops its handler and never reports; another worker completes the step exactly once, in the same attempt',
  template: template('lease_lapse', 'a step whose first worker stalls', [step('gated', 'cf.gate')]),
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
    // Were the stalled handler still running, this would let it report late.
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
        // The stalled worker's handler stopped with LeaseLapsed; the report was not sent (accepted null).
        { task: 'task', step: 'gated', attempt: 1, delivery: 1, worker: 'stalled', outcome: 'retryable_failure', kind: 'LeaseLapsed', accepted: null, reason: null },
        { task: 'task', step: 'gated', attempt: 1, delivery: 2, worker: 'rescuer', outcome: 'success', kind: null, accepted: true, reason: null },
      ],
      workerExits: { stalled: 0, rescuer: 0 },
    },
  },
};
