/** The demo's per-task table lists each batch instance right after its worker step. */
import { expect, it } from 'vitest';
import type { StepInfo } from '../../sdk/src/index.ts';
import { tableOrder } from '../../workers/src/demo/task-table.ts';

function step(name: string): StepInfo {
  return {
    stepId: name, name, handler: 'h', type: 'standard', state: 'complete', attempt: 1, maxAttempts: 3, deliveries: 1,
    dependencies: [], result: null, error: null, claimedBy: null, leaseExpiresAt: null, nextRetryAt: null,
    enqueuedAt: null, startedAt: null, finishedAt: null,
  };
}

it('puts instances after their worker step in item order, and leaves other names alone', () => {
  const names = ['split', 'chunk', 'merge', 'chunk[10]', 'chunk[2]', 'chunk[0]', 'orphan[1]'];
  expect(tableOrder(names.map(step)).map((s) => s.name)).toEqual([
    'split', 'chunk', 'chunk[0]', 'chunk[2]', 'chunk[10]', 'merge', 'orphan[1]',
  ]);
});
