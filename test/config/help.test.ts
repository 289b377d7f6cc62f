/** tasker-ctl config answers --help for each subcommand and refuses unknown ones. In-process, no database. */
import { afterEach, beforeEach, expect, it, vi, type MockInstance } from 'vitest';
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

const printed = (spy: MockInstance<typeof console.log>): string => spy.mock.calls.map((call) => call.join(' ')).join('\n');

it('lists config among the commands, and the variables that choose the configuration', async () => {
  expect(await main(['--help'])).toBe(0);
  expect(printed(log)).toMatch(/^ {2}config +generate \| show \| validate/m);
  for (const name of ['TASKER_ENV', 'TASKER_CONFIG_PATH', 'TASKER_CONFIG_ROOT']) expect(printed(log)).toContain(name);
});

it.each([['config'], ['config', 'generate'], ['config', 'show'], ['config', 'validate']])('%s --help', async (...command) => {
  expect(await main([...command, '--help'])).toBe(0);
  expect(printed(log)).toMatch(new RegExp(`^Usage: tasker-ctl ${command.join(' ')}`));
});

it.each([
  [['config'], 'config needs a command: generate, show or validate'],
  [['config', 'frobnicate'], 'unknown config command "frobnicate"'],
  [['config', 'show'], '--context is required: orchestration or worker'],
  [['config', 'generate', '--context', 'worker', '--environment', 'staging'], 'environment: must be one of test, development, production, got "staging"'],
])('%j exits 2', async (argv, message) => {
  expect(await main(argv)).toBe(2);
  expect(printed(error)).toContain(message);
});
