/** wide_fan_out: one step, fifty parallel steps, one join. */
import type { JsonObject, TemplateStep } from '@tasker/sdk';
import type { Scenario } from '../scenario.ts';
import { collectStep, template } from './template.ts';

const WIDTH = 50;
const leaves = Array.from({ length: WIDTH }, (_, i) => `leaf_${String(i).padStart(2, '0')}`);
const leafSteps: TemplateStep[] = leaves.map((name, i) => collectStep(name, ['root'], i));
// leaf i sums i + root's 1; the join adds them all: Σ(i + 1) for i < 50 = 1275.
const joinFrom: JsonObject = Object.fromEntries(leaves.map((name, i) => [name, i + 1]));

export const wideFanOut: Scenario = {
  name: 'wide_fan_out',
  description: `root → ${WIDTH} parallel steps → join: all run, the join once, after all of them, with every result`,
  template: template('wide_fan_out', `a fan-out of ${WIDTH} and a fan-in`, [
    collectStep('root', [], 1),
    ...leafSteps,
    collectStep('join', leaves, 0),
  ]),
  tasks: [{ label: 'task' }],
  expect: {
    tasks: {
      task: {
        state: 'complete',
        steps: {
          ...Object.fromEntries(leaves.map((name, i) => [name, { state: 'complete', completions: 1, result: { sum: i + 1 } }])),
          join: { state: 'complete', completions: 1, result: { sum: 1275, from: joinFrom, visited: ['root', ...leaves, 'join'] } },
        },
      },
    },
    ordering: [],
  },
};
