/** The client: create, read, wait for, cancel and retry tasks. */
export {
  TaskerClient,
  type CreateTaskOptions,
  type ListTasksOptions,
  type TaskPage,
  type TaskerClientOptions,
  type WaitForTaskOptions,
} from './client.ts';
export { ClientClosedError, TaskWaitTimeoutError } from './errors.ts';
export { TERMINAL_TASK_STATES, isTerminalTaskState, toTaskInfo, toTaskSummary, type StepInfo, type TaskInfo, type TaskSummary } from './task-info.ts';
