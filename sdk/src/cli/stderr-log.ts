import type { LogSink } from '../db/log.ts';

/**
 * Writes every log line to stderr. Commands whose stdout is meant for scripts (`task create`
 * prints the task id, `--json` prints JSON) use it so that starting the embedded server, or any
 * other progress line, never mixes into what a script captures.
 */
export const stderrLogSink: LogSink = (line) => {
  console.error(line);
};
