/**
 * batch_fan_out: a batch step fans out into one instance of its worker step per item (created
 * at run time, named `square[i]`); the convergence step runs once, after all of them, with every
 * result in item order. An empty fan-out runs no instance and the convergence step at once.
 */
import type { JsonObject } from '@tasker/sdk';
import type { Scenario } from '../scenario.ts';
import { RAN_ONCE, step, template } from './template.ts';

const ITEMS = 20;
const instances: JsonObject = Object.fromEntries(
  Array.from({ length: ITEMS }, (_, i) => [
    `square[${i}]`,
    { state: 'complete', completions: 1, path: [...RAN_ONCE], result: { index: i, size: ITEMS, square: i * i, word: `ITEM-${i}-Ü🙂` } },
  ]),
);

export const batchFanOut: Scenario = {
  name: 'batch_fan_out',
  description: `a batch step fans out into ${ITEMS} instances and the convergence step sees all their results in order; an empty fan-out runs none`,
  template: template('batch_fan_out', 'split, square each item, merge', [
    step('split', 'cf.split', { type: 'batch' }),
    step('square', 'cf.square', { dependencies: ['split'] }),
    step('merge', 'cf.merge', { dependencies: ['square'] }),
  ]),
  tasks: [
    { label: 'twenty', context: { count: ITEMS } },
    { label: 'empty', context: { count: 0 } },
  ],
  expect: {
    tasks: {
      twenty: {
        state: 'complete',
        steps: {
          split: { state: 'complete', path: [...RAN_ONCE], result: { count: ITEMS } },
          square: { state: 'skipped' },
          ...instances,
          merge: {
            state: 'complete',
            completions: 1,
            result: {
              split: { count: ITEMS },
              instances: ITEMS,
              sumOfSquares: Array.from({ length: ITEMS }, (_, i) => i * i).reduce((a, b) => a + b, 0),
              inOrder: true,
              words: Array.from({ length: ITEMS }, (_, i) => `ITEM-${i}-Ü🙂`),
            },
          },
        },
      },
      empty: {
        state: 'complete',
        steps: {
          split: { state: 'complete', result: { count: 0 } },
          square: { state: 'skipped' },
          merge: { state: 'complete', result: { split: { count: 0 }, instances: 0, sumOfSquares: 0, inOrder: true, words: [] } },
        },
      },
    },
    ordering: [],
  },
};
