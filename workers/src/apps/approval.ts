/**
 * Conditional approval (templates/approval.yaml): route_approval is a decision step. It runs
 * auto_approve for small amounts and manager_review otherwise; the branch not chosen ends as
 * skipped, and record_decision (the join) runs after whichever branch ran.
 */
import { PermanentError, decide, defineHandler, type JsonObject, type JsonValue } from '@tasker/sdk';

interface ExpenseContext extends JsonObject {
  employee: string;
  amount: number;
}

/** Amounts up to this are approved without a manager. */
const AUTO_APPROVE_LIMIT = 1_000;

export const validateRequest = defineHandler<ExpenseContext>('approvals.validate_request', (ctx) => {
  if (ctx.context.amount > 100_000) throw new PermanentError(`amount ${ctx.context.amount} is over the policy limit`);
  return { valid: true, amount: ctx.context.amount };
});

export const routeApproval = defineHandler<ExpenseContext>('approvals.route_approval', (ctx) => {
  const route = ctx.context.amount <= AUTO_APPROVE_LIMIT ? 'auto_approve' : 'manager_review';
  return decide([route], { route });
});

export const autoApprove = defineHandler<ExpenseContext>('approvals.auto_approve', (ctx) => ({
  approved: true,
  by: 'policy',
  amount: ctx.context.amount,
}));

export const managerReview = defineHandler<ExpenseContext>('approvals.manager_review', (ctx) => ({
  approved: ctx.context.amount <= 10_000,
  by: 'manager',
  amount: ctx.context.amount,
}));

export const recordDecision = defineHandler<ExpenseContext, Record<string, JsonValue>>('approvals.record_decision', (ctx) => {
  // Exactly one branch ran; the skipped one has no result.
  const decision = ctx.dependencyResults['auto_approve'] ?? ctx.dependencyResults['manager_review'] ?? null;
  return { employee: ctx.context.employee, decision };
});

export const approvalHandlers = [validateRequest, routeApproval, autoApprove, managerReview, recordDecision];
