/** decision: a decision step picks one branch; the other is skipped, down to the join. */
import type { Scenario } from '../scenario.ts';
import { collectStep, step, template } from './template.ts';

export const decision: Scenario = {
  name: 'decision',
  description: 'route chooses auto_approve or manual_review by amount; the branch not chosen is skipped all the way down, the join still runs',
  template: template('decision', 'approve small amounts, review large ones', [
    step('route', 'cf.route', { type: 'decision', inputs: { threshold: 100 } }),
    collectStep('auto_approve', ['route'], 1),
    collectStep('manual_review', ['route'], 2),
    collectStep('escalate', ['manual_review'], 3),
    collectStep('finish', ['auto_approve', 'escalate'], 0, { optional: true }),
  ]),
  tasks: [
    { label: 'small', context: { amount: 50 } },
    { label: 'large', context: { amount: 5000 } },
  ],
  expect: {
    tasks: {
      small: {
        state: 'complete',
        steps: {
          route: { state: 'complete', result: { amount: 50, branch: 'auto_approve', sum: 50 } },
          auto_approve: { state: 'complete', result: { sum: 51 } },
          manual_review: { state: 'skipped', path: ['pending 1/0', 'skipped 1/0'], result: null },
          escalate: { state: 'skipped', path: ['pending 1/0', 'skipped 1/0'] },
          finish: { state: 'complete', result: { sum: 51, from: { auto_approve: 51, escalate: null } } },
        },
      },
      large: {
        state: 'complete',
        steps: {
          route: { state: 'complete', result: { amount: 5000, branch: 'manual_review', sum: 5000 } },
          auto_approve: { state: 'skipped' },
          manual_review: { state: 'complete', result: { sum: 5002 } },
          escalate: { state: 'complete', result: { sum: 5005 } },
          finish: { state: 'complete', result: { sum: 5005, from: { auto_approve: null, escalate: 5005 } } },
        },
      },
    },
    ordering: [],
  },
};
