/**
 * The handler API: how step handlers are written (StepHandler, defineHandler), what they receive
 * (StepContext, StepLogger), how they choose their outcome (RetryableError, PermanentError,
 * decide, fanOut), and how a worker runs them (HandlerRegistry, executeStep).
 */
export type { StepContext } from './step-context.ts';
export { createStepContext } from './step-context.ts';
export { StepHandler, defineHandler, checkHandlerName } from './step-handler.ts';
export type { HandlerDefinition, HandlerInput, StepHandlerClass } from './step-handler.ts';
export { HandlerRegistry, toHandlerDefinition } from './handler-registry.ts';
export { decide, isDecision } from './decision.ts';
export type { Decision } from './decision.ts';
export { fanOut, isFanOut, MAX_BATCH_ITEMS } from './fan-out.ts';
export type { FanOut } from './fan-out.ts';
export type { BatchItem } from './batch-context.ts';
export {
  RetryableError,
  PermanentError,
  StepTimeoutError,
  StepCancelledError,
  WorkerShutdownError,
  LeaseLapsedError,
  UnknownDependencyError,
  BatchTooLargeError,
  NotABatchInstanceError,
  NotABatchWorkerStepError,
  DuplicateHandlerError,
  InvalidHandlerNameError,
  InvalidHandlerError,
} from './errors.ts';
export { executeStep } from './execute-step.ts';
export { MAX_RESULT_BYTES } from './success-outcome.ts';
export type { ExecuteStepOptions } from './execute-step.ts';
export { createStepLogger, STEP_LOG_LEVELS } from './logger.ts';
export type { LogRecord, LogWriter, StepLogger, StepLogIds, StepLogLevel } from './logger.ts';
export { defaultLogWriter, createLogWriter } from './log-writer.ts';
export type { LogWriterOptions } from './log-writer.ts';
export { redactText, isSecretKey, REDACTED } from './redact.ts';
export { toJsonValue, NotJsonError } from '../json/to-json-value.ts';
