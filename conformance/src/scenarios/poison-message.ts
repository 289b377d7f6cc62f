/**
 * poison_message: messages that name no step, written straight into the queue with pgmq.send,
 * are archived without running anything, and the worker carries on with real work.
 */
import type { JsonValue } from '@tasker/sdk';
import type { Scenario } from '../scenario.ts';
import { collectStep, RAN_ONCE, template } from './template.ts';

const GARBAGE: JsonValue[] = [
  { hello: 'world' },
  'just a string',
  [1, 2, 3],
  42,
  null,
  { step_id: 'not-a-uuid', attempt: 'one' },
  { step_id: '00000000-0000-0000-0000-000000000000', attempt: 1, task_id: '00000000-0000-0000-0000-000000000000' },
  { step_id: ['a'], attempt: { nested: true } },
];

export const poisonMessage: Scenario = {
  name: 'poison_message',
  description: `${GARBAGE.length} garbage messages in the queue are archived unrun; a real task behind them completes`,
  template: template('poison_message', 'real work behind garbage', [collectStep('work', [], 1)]),
  tasks: [{ label: 'task' }],
  script: [{ do: 'sendRaw', messages: GARBAGE }, { do: 'create' }, { do: 'waitForTasks' }],
  observe: ['queue'],
  expect: {
    tasks: { task: { state: 'complete', steps: { work: { state: 'complete', path: [...RAN_ONCE], result: { sum: 1 } } } } },
    ordering: [],
    observations: { queue: { left: 0, archived: GARBAGE } },
  },
};
