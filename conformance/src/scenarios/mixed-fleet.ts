/**
 * The mixed fleet's workload (run by runner/fleet.ts, not per cell): enough short steps that
 * three workers on three runtimes, started before the first task exists, all get some. Small
 * claim batches keep one worker from buffering everything.
 */
import type { TaskTemplate } from '@tasker/sdk';
import type { WorkerSpec } from '../worker/messages.ts';
import { step } from './template.ts';

export const MIXED_FLEET: { template: TaskTemplate; tasks: number; worker: Omit<WorkerSpec, 'namespaces'> } = {
  template: {
    namespace: 'mixed_fleet',
    name: 'flow',
    version: '1.0.0',
    description: 'two short steps',
    steps: [step('first', 'cf.work', { inputs: { ms: 30 } }), step('second', 'cf.work', { dependencies: ['first'], inputs: { ms: 30 } })],
  },
  tasks: 90,
  worker: { concurrency: 3, core: { batchSize: 2, prefetch: 2 } },
};
