/**
 * The log writer of a loaded config: `common.log.level` and `common.log.format` decide what the
 * one writer implementation (handler/log-writer.ts) writes.
 */
import { createLogWriter } from '../handler/log-writer.ts';
import type { LogWriter } from '../handler/logger.ts';
import type { TaskerConfig } from './types.ts';

/** Where a config's log lines go: readable or JSON lines on stderr, at its level and above. */
export function logWriterFromConfig(config: TaskerConfig, output?: (line: string) => void): LogWriter {
  return createLogWriter({ ...config.common.log, ...(output === undefined ? {} : { output }) });
}
