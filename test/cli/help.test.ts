/**
 * Every tasker-ctl command answers --help with its usage and exit 0, and unknown commands,
 * subcommands and options are usage errors (exit 2). Runs main() in-process: no database needed.
 */
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { main } from '../../sdk/src/cli/main.ts';

let log: MockInstance<typeof console.log>;
let error: MockInstance<typeof console.error>;

beforeEach(() => {
  log = vi.spyOn(console, 'log').mockImplementation(() => {});
  error = vi.spyOn(console, 'error').mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
});

function printed(spy: MockInstance<typeof console.log>): string {
  return spy.mock.calls.map((call) => call.join(' ')).join('\n');
}

const COMMANDS = [
  ['template'],
  ['template', 'validate'],
  ['template', 'register'],
  ['template', 'list'],
  ['task'],
  ['task', 'create'],
  ['task', 'get'],
  ['task', 'watch'],
  ['task', 'cancel'],
  ['task', 'retry'],
  ['worker'],
  ['orchestrator'],
];

describe('tasker-ctl --help', () => {
  it('lists the new commands and the exit statuses', async () => {
    expect(await main(['--help'])).toBe(0);
    const text = printed(log);
    for (const command of ['template', 'task', 'worker', 'orchestrator']) expect(text).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(text).toContain('exit 3 when the task ended in error or was cancelled');
  });

  it.each(COMMANDS.map((command) => [command.join(' '), command] as const))('%s --help prints its usage and exits 0', async (_name, command) => {
    expect(await main([...command, '--help'])).toBe(0);
    expect(printed(log)).toMatch(new RegExp(`^Usage: tasker-ctl ${command.join(' ')}`));
  });

  it.each([
    [['template', 'frobnicate'], 'unknown template command "frobnicate"'],
    [['task', 'explode'], 'unknown task command "explode"'],
    [['task'], 'task needs a command'],
    [['task', 'get', '--verbose'], "Unknown option '--verbose'"],
    [['worker', '--handlers'], "Option '--handlers <value>' argument missing"],
    [['orchestrator', '--sweep-interval-ms', '5'], '--sweep-interval-ms expects a whole number from 10 to 3600000'],
    [['worker', '--handlers', '.', '--concurrency', '10001'], '--concurrency expects a whole number from 1 to 10000'],
    [['task', 'create', 'ns/t', '--timeout-ms', '2592000001'], '--timeout-ms expects a whole number from 1 to 2592000000'],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    expect(await main(argv)).toBe(2);
    expect(printed(error)).toContain(message);
  });
});
