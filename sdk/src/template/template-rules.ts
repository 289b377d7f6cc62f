/**
 * The rules a template must follow, as data. They copy the SQL validation in
 * migrations/0002_templates.sql (tasker.validate_template), which stays the authority on
 * registration; a change there must be made here too (test/template checks both agree on
 * accepted templates, and each rule below has a test naming it).
 */

/** A text field's pattern and the sentence that explains it. */
export interface TextRule {
  pattern: RegExp;
  hint: string;
}

/** An integer field's allowed range. */
export interface IntRule {
  min: number;
  max: number;
}

export const NAMESPACE: TextRule = {
  pattern: /^[a-z][a-z0-9_]{0,33}$/,
  hint: 'a namespace is 1 to 34 lowercase letters, digits or underscores, starting with a letter (it becomes part of the PGMQ queue name)',
};

export const TASK_NAME: TextRule = {
  pattern: /^[a-z][a-z0-9_]{0,63}$/,
  hint: 'a task name is 1 to 64 lowercase letters, digits or underscores, starting with a letter',
};

export const VERSION: TextRule = {
  // No leading zeros: "01.0.0" would be another version sorting equal to "1.0.0" (migration 0039).
  pattern: /^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$/,
  hint: 'a version is MAJOR.MINOR.PATCH without leading zeros, e.g. 1.0.0',
};

export const STEP_NAME: TextRule = {
  pattern: /^[a-z][a-z0-9_]{0,63}$/,
  hint: 'a step name is 1 to 64 lowercase letters, digits or underscores, starting with a letter',
};

export const HANDLER_NAME: TextRule = {
  pattern: /^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$/,
  hint: 'a handler name is up to 128 letters, digits and _ . : / -, starting with a letter or _',
};

export const STEP_TYPES = ['standard', 'decision', 'batch'] as const;
// Batch steps also constrain their neighbours (one successor, the batch worker step, depending on
// the batch step alone and of type standard): those rules are a graph check, in check-batch.ts,
// matching tasker._check_batch_steps (migrations/0010_batch_fan_out.sql).

export const MAX_STEPS = 10_000;

export const MAX_ATTEMPTS: IntRule = { min: 1, max: 1000 };
export const BACKOFF_MS: IntRule = { min: 0, max: 86_400_000 };
export const MAX_BACKOFF_MS: IntRule = { min: 0, max: 86_400_000 };
export const TIMEOUT_MS: IntRule = { min: 1, max: 86_400_000 };
export const MAX_DELIVERIES: IntRule = { min: 1, max: 1000 };

/** The database's default backoff: `max_backoff_ms` alone must not be below it. */
export const DEFAULT_BACKOFF_MS = 1000;

export const TEMPLATE_KEYS = ['namespace', 'name', 'version', 'description', 'input_schema', 'steps'] as const;
export const STEP_KEYS = ['name', 'handler', 'type', 'dependencies', 'inputs', 'retry', 'timeout_ms', 'max_deliveries'] as const;
export const RETRY_KEYS = ['max_attempts', 'backoff_ms', 'max_backoff_ms', 'retryable'] as const;
