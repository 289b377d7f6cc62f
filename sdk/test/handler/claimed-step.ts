/**
 * A ClaimedStep as the claim returns it, for running executeStep without a database. Tests that
 * need the database's view (test/handler/reports-db.test.ts) claim real steps instead.
 */
import type { ClaimedStep } from '../../src/protocol/index.ts';

/** A standard step `charge` of task `t-1`, attempt 1 of 3, with the given fields overridden. */
export function claimedStep(overrides: Partial<ClaimedStep> = {}): ClaimedStep {
  return {
    msgId: 1,
    taskId: 't-1',
    stepId: 's-1',
    stepName: 'charge',
    handler: 'shop.charge',
    stepType: 'standard',
    attempt: 1,
    maxAttempts: 3,
    delivery: 1,
    timeoutMs: 30_000,
    leaseExpiresAt: new Date(Date.now() + 30_000),
    namespace: 'shop',
    taskName: 'order',
    taskVersion: '1.0.0',
    correlationId: 'corr-1',
    context: { orderId: 7 },
    inputs: { currency: 'EUR' },
    dependencyResults: { validate: { total: 42 } },
    successors: ['ship', 'notify'],
    dependencyNames: ['validate'],
    ...overrides,
  };
}
