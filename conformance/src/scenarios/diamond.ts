/** diamond: one step fans out to two, which join again. */
import type { Scenario } from '../scenario.ts';
import { collectStep, RAN_ONCE, template } from './template.ts';

export const diamond: Scenario = {
  name: 'diamond',
  description: 'a → (b, c) → d: the join runs once, after both parents, and sees both results',
  template: template('diamond', 'a diamond', [
    collectStep('a', [], 1),
    collectStep('b', ['a'], 10),
    collectStep('c', ['a'], 100),
    collectStep('d', ['b', 'c'], 1000),
  ]),
  tasks: [{ label: 'task' }],
  expect: {
    tasks: {
      task: {
        state: 'complete',
        steps: {
          b: { result: { sum: 11 } },
          c: { result: { sum: 101 } },
          d: {
            state: 'complete',
            completions: 1,
            path: [...RAN_ONCE],
            result: { sum: 1112, from: { b: 11, c: 101 }, visited: ['a', 'b', 'c', 'd'], attempt: 1 },
          },
        },
      },
    },
    ordering: [],
  },
};
