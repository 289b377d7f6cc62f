/**
 * error lines docs/config.md quotes verbatim, and the ranges and exit statuses
 * docs/cli.md and docs/config.md give for tasker-ctl flags, checked against the built CLI.
 * None of these needs a database.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../cli/run-cli.ts';

const CONFIG_PAGE = readFileSync(`${ROOT}docs/config.md`, 'utf8');

describe('docs/config.md quotes the errors tasker-ctl prints', () => {
  it('the "Errors" example: two bad variables, both reported, exit 2', async () => {
    const result = await runCli(['config', 'validate', '--context', 'worker'], {
      env: { TASKER_WORKER_CONCURRENCY: 'abc', TASKER_WORKER_DEPLOYMENT_MODE: 'polling' },
    });
    expect(result.code).toBe(2);
    for (const line of result.stderr.trim().split('\n')) expect(CONFIG_PAGE).toContain(line);
    expect(result.stderr.trim().split('\n')).toHaveLength(2);
  });

  it('an instance index outside 0-9', async () => {
    const result = await runCli(['config', 'validate', '--context', 'worker'], { env: { TASKER_INSTANCE_ID: '12' } });
    expect(result.code).toBe(2);
    expect(CONFIG_PAGE).toContain(result.stderr.trim());
  });

  it('production without TASKER_CONFIG_PATH', async () => {
    const result = await runCli(['config', 'validate', '--context', 'worker'], { env: { TASKER_ENV: 'production' } });
    expect(result.code).toBe(2);
    expect(CONFIG_PAGE).toContain(result.stderr.trim().replace(/^\[ERROR\] worker: /, '[ERROR] '));
  });

  it('TASKER_LOG_LEVEL is accepted in any case; TASKER_MESSAGING_BACKEND=rabbitmq is refused', async () => {
    expect((await runCli(['config', 'validate', '--context', 'worker'], { env: { TASKER_LOG_LEVEL: 'DEBUG' } })).code).toBe(0);
    const rabbit = await runCli(['config', 'validate', '--context', 'worker'], { env: { TASKER_MESSAGING_BACKEND: 'rabbitmq' } });
    expect(rabbit.code).toBe(2);
    expect(rabbit.stderr).toContain('common.messaging.backend');
  });
});

describe('docs/cli.md ranges and exit statuses of flags', () => {
  const cases: Array<[string, string[]]> = [
    ['--concurrency 0 (worker.concurrency is 1-10000)', ['worker', '--handlers', 'test/cli/fixtures', '--concurrency', '0']],
    ['--concurrency 10001', ['worker', '--handlers', 'test/cli/fixtures', '--concurrency', '10001']],
    ['--shutdown-grace-ms 86400001 (0-86400000)', ['worker', '--handlers', 'test/cli/fixtures', '--shutdown-grace-ms', '86400001']],
    ['--binding bogus', ['worker', '--handlers', 'test/cli/fixtures', '--binding', 'bogus']],
    ['--sweep-interval-ms 5 (10-3600000)', ['orchestrator', '--sweep-interval-ms', '5']],
    ['--mode bogus', ['orchestrator', '--mode', 'bogus']],
    ['task get with a non-UUID id', ['task', 'get', 'not-a-uuid']],
    ['task cancel with a non-UUID id', ['task', 'cancel', 'not-a-uuid']],
    ['task retry with a non-UUID id', ['task', 'retry', 'xyz']],
    ['task watch with a non-UUID id', ['task', 'watch', 'xyz']],
    ['an unknown command', ['bogus']],
    ['template validate without files', ['template', 'validate']],
    ['config show without --context', ['config', 'show']],
  ];
  it.each(cases)('%s is a usage error, exit 2', async (_label, args) => {
    const result = await runCli(args, { databaseUrl: 'postgres://review:review-pw@127.0.0.1:1/none' });
    expect(result.code, result.stderr).toBe(2);
  });

  it('a database that cannot be reached is exit 1 with an [ERROR] line and no password', async () => {
    const result = await runCli(['task', 'get', '01a20463-94c6-7d1d-8ecd-3d00daba48bf'], { databaseUrl: 'postgres://review:review-pw@127.0.0.1:1/none' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^\[ERROR\] /m);
    expect(result.stdout + result.stderr).not.toContain('review-pw');
  });

  it('every command and subcommand answers --help with exit 0', async () => {
    const commands = [
      [], ['migrate'], ['db'], ['db', 'start'], ['db', 'stop'], ['db', 'status'], ['db', 'url'],
      ['template'], ['template', 'validate'], ['template', 'register'], ['template', 'list'],
      ['task'], ['task', 'create'], ['task', 'get'], ['task', 'watch'], ['task', 'cancel'], ['task', 'retry'],
      ['worker'], ['orchestrator'], ['config'], ['config', 'generate'], ['config', 'show'], ['config', 'validate'],
    ];
    for (const command of commands) {
      const result = await runCli([...command, '--help']);
      expect(result.code, command.join(' ')).toBe(0);
      expect(result.stdout, command.join(' ')).toMatch(/^Usage: tasker-ctl/);
    }
  });
});
