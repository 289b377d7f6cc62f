/**
 * `tasker-ctl config validate` of a merged file without --context checks the context the file
 * was made for. It used to check both, so a perfectly good worker file (--file, or
 * TASKER_CONFIG_PATH) failed as an orchestration file: exit 2 after printing OK.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tasker-validate-file-'));
  for (const context of ['worker', 'orchestration']) {
    const made = await runCli(['config', 'generate', '--context', context, '--output', join(dir, `${context}.toml`)]);
    expect(made.code, made.stderr).toBe(0);
  }
});

describe.each(['worker', 'orchestration'])('a merged %s file', (context) => {
  it('passes `config validate --file` alone, checked as its own context', async () => {
    const result = await runCli(['config', 'validate', '--file', join(dir, `${context}.toml`)]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^OK +${context} \\(test\\): 1 file`))]);
  });

  it('passes `config validate` with TASKER_CONFIG_PATH naming it', async () => {
    const result = await runCli(['config', 'validate'], { env: { TASKER_CONFIG_PATH: join(dir, `${context}.toml`) } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`OK     ${context} (test)`);
  });
});

it('still refuses a merged file checked for the other context', async () => {
  const result = await runCli(['config', 'validate', '--file', join(dir, 'worker.toml'), '--context', 'orchestration']);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('the file was made for the worker context');
});
