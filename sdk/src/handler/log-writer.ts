/**
 * Log writers: where step log records end up. Development wants lines a person can read;
 * production wants one JSON object per line for a log collector. Both go to stderr, so a
 * program's stdout stays its own.
 */
import { formatProblem, type ConfigProblem } from '../config/errors.ts';
import { logSettingsFromEnv } from '../config/log-settings.ts';
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
 * Default writer, for programs that did not load a config: readable lines on stderr, one JSON
 * object per line when TASKER_ENV=production (or TASKER_LOG_FORMAT=json); keys that look like
 * secrets (password, token, secret, authorization, database_url...) are redacted, and postgres
 * URLs have their password removed. TASKER_LOG_LEVEL (debug | info | warn | error, default info)
 * sets the lowest level written. These are the config keys common.log.* read from the
 * environment by the config code (config/log-settings.ts), so they mean the same as in a loaded
 * config. The environment is read for every record, so it may change while a program runs.
 */
export const defaultLogWriter: LogWriter = (record) => {
  const settings = logSettingsFromEnv(environment());
  reportBadSettings(settings.problems);
  createLogWriter({ format: settings.format, level: settings.level })(record);
};

const reported = new Set<string>();

// A bad setting must not make every log call fail: say so once, and log with the default.
function reportBadSettings(problems: readonly ConfigProblem[]): void {
  for (const problem of problems) {
    const line = `[tasker] ${formatProblem(problem)}; using the default`;
    if (reported.has(line)) continue;
    reported.add(line);
    console.error(line);
  }
}

// Deno without --allow-env throws on reading the environment; logging must still work there.
function environment(): Readonly<Record<string, string | undefined>> {
  try {
    return globalThis.process?.env ?? {};
  } catch {
    return {};
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
