/**
 * Configuration problems. A config is checked whole and every problem reported at once, each
 * naming the key and where its value came from, because fixing one typo per deploy is slow.
 */
import { TaskerError } from '../errors.ts';
import { redactText } from '../handler/redact.ts';

/** One thing wrong with a configuration. */
export interface ConfigProblem {
  /** The dotted key (`worker.concurrency`), or the variable or file the problem is about. */
  key: string;
  /** What is wrong, e.g. `must be a whole number from 1 to 10000, got "abc"`. */
  problem: string;
  /** Where the value came from: a file or an environment variable. */
  source?: string;
}

/** Renders a problem as one line: `key: problem (from source)`. Passwords are removed. */
export function formatProblem(problem: ConfigProblem): string {
  const from = problem.source === undefined ? '' : ` (from ${problem.source})`;
  return redactText(`${problem.key}: ${problem.problem}${from}`);
}

/** A configuration that cannot be used; `problems` lists every reason. */
export class ConfigError extends TaskerError {
  constructor(readonly problems: readonly ConfigProblem[]) {
    const lines = problems.map(formatProblem);
    super(
      'CONFIG_INVALID',
      lines.length === 1 ? (lines[0] ?? '') : `${lines.length} configuration problems:\n${lines.map((line) => `  - ${line}`).join('\n')}`,
    );
  }
}
