/**
 * The SQL protocol, typed: one function per `tasker.*` SQL function. The state machines live in
 * SQL (migrations/); these are thin calls, shared by the `pg` binding, the orchestrator, the
 * client and tasker-ctl.
 */
export * from './types.ts';
export * from './errors.ts';
export { listTemplates, registerTemplate, validateTemplate, type TemplateSummary } from './templates.ts';
export {
  createTask,
  getTaskStatus,
  cancelTask,
  retryTask,
  sweepTaskTimeouts,
  templateInputSchema,
} from './tasks.ts';
export { listTasks, type ListTasksQuery, type TaskListPage, type TaskSummaryStatus } from './task-list.ts';
export { claimSteps } from './claims.ts';
export { reportAndClaim, reportStep, reportSteps, type ReportAndClaimResult } from './reports.ts';
export { extendLeases, releaseLeases, sweepExpiredLeases } from './leases.ts';
