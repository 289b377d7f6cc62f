/**
 * `task get`'s step table (formatTask): a running step's duration grows ("1.00 s…"), a step
 * waiting for its retry shows none (it used to show a duration growing since its last attempt
 * started, as if it were still running).
 */
import { describe, expect, it } from 'vitest';
import type { StepInfo, TaskInfo } from '../../sdk/src/client/index.ts';
import { formatTask } from '../../sdk/src/cli/commands/task-view.ts';

const started = new Date('2026-11-24T10:00:00.000Z');
const now = new Date('2026-11-24T10:00:01.000Z');

function step(name: string, overrides: Partial<StepInfo>): StepInfo {
  return {
    stepId: `id-${name}`, name, handler: 'h', type: 'standard', state: 'in_progress', attempt: 1, maxAttempts: 3, deliveries: 1,
    dependencies: [], result: null, error: null, claimedBy: 'w', leaseExpiresAt: null, nextRetryAt: null, enqueuedAt: started,
    startedAt: started, finishedAt: null, ...overrides,
  };
}

const task: TaskInfo = {
  taskId: 't', namespace: 'ns', name: 'n', version: '1.0.0', state: 'in_progress', context: {}, tags: [], priority: 0,
  idempotencyKey: null, correlationId: 'c', initiator: null, createdAt: started, updatedAt: started, finishedAt: null, stepCounts: {},
  steps: [
    step('running', {}),
    step('retrying', { state: 'waiting_for_retry', attempt: 2, error: { kind: 'Boom', message: 'first try' }, nextRetryAt: now }),
  ],
};

describe('formatTask', () => {
  it('shows a growing duration for a running step only', () => {
    const rows = formatTask(task, now).filter((line) => /^(running|retrying) /.test(line));
    expect(rows[0]).toMatch(/^running +in_progress +1\/3 +w +1\.00 s…$/);
    expect(rows[1]).toMatch(/^retrying +waiting_for_retry +2\/3 +w +- +Boom: first try/);
  });
});
