/** many_tasks: 500 tasks created at once, all running at the same time. */
import type { Scenario } from '../scenario.ts';
import { collectStep, RAN_ONCE, template } from './template.ts';

const TASKS = 500;

export const manyTasks: Scenario = {
  name: 'many_tasks',
  description: `${TASKS} two-step tasks created concurrently all complete, every step exactly once and in order`,
  template: template('many_tasks', 'a small two-step task', [collectStep('first', [], 1), collectStep('second', ['first'], 2)]),
  tasks: [{ label: 'bulk', count: TASKS }],
  timeoutMs: 120_000,
  expect: {
    tasks: {
      bulk: {
        copies: TASKS,
        state: 'complete',
        steps: {
          first: { state: 'complete', completions: 1, path: [...RAN_ONCE], result: { sum: 1 } },
          second: { state: 'complete', completions: 1, path: [...RAN_ONCE], result: { sum: 3, from: { first: 1 } } },
        },
      },
    },
    ordering: [],
  },
};
