/**
 * Review: a command or subcommand name that happens to be an Object.prototype member must be an
 * unknown command (exit 2, "unknown command"), like any other unknown name. docs/cli.md: exit 2
 * for "unknown command or option".
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.ts';

describe('tasker-ctl command dispatch', () => {
  for (const args of [
    ['toString'],
    ['constructor'],
    ['task', 'valueOf'],
    ['config', 'constructor'],
    ['db', 'hasOwnProperty'],
    ['template', 'toString'],
  ]) {
    it(`treats "${args.join(' ')}" as an unknown command (exit 2, no stack trace)`, async () => {
      const result = await runCli(args);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.stderr).toMatch(/unknown .*command/);
      expect(result.code).toBe(2);
    });
  }
});
