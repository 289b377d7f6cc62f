/** Receives one finished log line at a time, e.g. `[INFO] PGMQ 1.11.1 (sql, ...)`. */
export type LogSink = (line: string) => void;

/** The severities our operational log lines carry; orchestrators grep for these prefixes. */
export type LogLevel = 'INFO' | 'SUCCESS' | 'ERROR';

/** Writes `[INFO]`/`[SUCCESS]` lines to stdout and `[ERROR]` lines to stderr. */
export const consoleLogSink: LogSink = (line) => {
  if (line.startsWith('[ERROR]')) console.error(line);
  else console.log(line);
};

/** Discards every line; the default where a library caller passed no sink. */
export const silentLogSink: LogSink = () => {};

/** Emits `[LEVEL] message` to the sink. */
export function logLine(log: LogSink, level: LogLevel, message: string): void {
  log(`[${level}] ${message}`);
}
