/** The client: create, read, wait for, cancel and retry tasks. */
export { TaskerClient, type CreateTaskOptions, type TaskerClientOptions, type WaitForTaskOptions } from './client.ts';
export { ClientClosedError, TaskWaitTimeoutError } from './errors.ts';
export { TERMINAL_TASK_STATES, isTerminalTaskState, toTaskInfo, type StepInfo, type TaskInfo } from './task-info.ts';
