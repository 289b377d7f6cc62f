/** linear: four steps in a row, each building on the one before. */
import type { Scenario } from '../scenario.ts';
import { collectStep, RAN_ONCE, template } from './template.ts';

export const linear: Scenario = {
  name: 'linear',
  description: 'a → b → c → d: each step runs after the one before and sees its result',
  template: template('linear', 'four steps in a row', [
    collectStep('a', [], 1),
    collectStep('b', ['a'], 2),
    collectStep('c', ['b'], 3),
    collectStep('d', ['c'], 4),
  ]),
  tasks: [{ label: 'task' }],
  expect: {
    tasks: {
      task: {
        state: 'complete',
        steps: {
          a: { state: 'complete', path: [...RAN_ONCE], result: { sum: 1, from: {}, visited: ['a'], attempt: 1 } },
          b: { state: 'complete', path: [...RAN_ONCE], result: { sum: 3, from: { a: 1 }, visited: ['a', 'b'], attempt: 1 } },
          c: { state: 'complete', path: [...RAN_ONCE], result: { sum: 6, from: { b: 3 }, visited: ['a', 'b', 'c'], attempt: 1 } },
          d: { state: 'complete', path: [...RAN_ONCE], result: { sum: 10, from: { c: 6 }, visited: ['a', 'b', 'c', 'd'], attempt: 1 } },
        },
      },
    },
    ordering: [],
  },
};
