/**
 * Log writers: where step log records end up. Development wants lines a person can read;
 * production wants one JSON object per line for a log collector. Both go to stderr, so a
 * program's stdout stays its own.
 */
import { InvalidConfigError } from '../errors.ts';
import { STEP_LOG_LEVELS, type LogRecord, type LogWriter, type StepLogLevel } from './logger.ts';
import { redactText, toLogFields } from './redact.ts';

/** Options of {@link createLogWriter}. */
export interface LogWriterOptions {
  /** `pretty`: readable lines; `json`: one JSON object per line. Default `pretty`. */
  format?: 'pretty' | 'json';
  /** Records below this level are dropped. Default `info`. */
  level?: StepLogLevel;
  /** Receives each finished line (without newline). Default: `console.error`. */
  output?: (line: string) => void;
}

/** A writer with fixed settings. Records are redacted again here, for records not made by a StepLogger. */
export function createLogWriter(options: LogWriterOptions = {}): LogWriter {
  const format = options.format ?? 'pretty';
  const threshold = STEP_LOG_LEVELS.indexOf(options.level ?? 'info');
  const output = options.output ?? ((line: string) => console.error(line));
  return (record) => {
    if (STEP_LOG_LEVELS.indexOf(record.level) < threshold) return;
    output(format === 'json' ? jsonLine(record) : prettyLine(record));
  };
}

/**
 * Default writer: readable lines on stderr in development, one JSON object per line when
 * TASKER_ENV=production; keys that look like secrets (password, token, secret, authorization,
 * database_url...) are redacted, and postgres URLs have their password removed.
 * TASKER_LOG_LEVEL (debug | info | warn | error, default info) sets the lowest level written.
 * The environment is read for every record, so it may change while a program runs.
 */
export const defaultLogWriter: LogWriter = (record) => {
  createLogWriter({ format: env('TASKER_ENV') === 'production' ? 'json' : 'pretty', level: envLevel() })(record);
};

let reportedBadLevel: string | undefined;

// A bad TASKER_LOG_LEVEL must not make every log call fail: say so once, and log at info.
function envLevel(): StepLogLevel {
  const value = env('TASKER_LOG_LEVEL');
  if (value === undefined || value === '') return 'info';
  const level = STEP_LOG_LEVELS.find((l) => l === value.toLowerCase());
  if (level !== undefined) return level;
  if (reportedBadLevel !== value) {
    reportedBadLevel = value;
    console.error(`[tasker] ${new InvalidConfigError('TASKER_LOG_LEVEL', value, STEP_LOG_LEVELS.join(' | ')).message}; logging at info`);
  }
  return 'info';
}

// Deno without --allow-env throws on reading the environment; logging must still work there.
function env(name: string): string | undefined {
  try {
    return globalThis.process?.env?.[name];
  } catch {
    return undefined;
  }
}

function jsonLine(record: LogRecord): string {
  // Fields first, so a field named `level` or `message` cannot overwrite the record's own.
  return JSON.stringify({
    ...toLogFields(record.fields),
    time: record.time,
    level: record.level,
    message: redactText(record.message),
  });
}

function prettyLine(record: LogRecord): string {
  const fields = Object.entries(toLogFields(record.fields))
    .map(([key, value]) => `${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
  const level = record.level.toUpperCase().padEnd(5);
  return `${record.time} ${level} ${redactText(record.message)}${fields === '' ? '' : `  ${fields}`}`;
}
