/**
 * docs/cli.md "Example session" runs tasker-ctl "with the sample workflows in workers/".
 * Its transcript must match what those commands print today (no database needed for these two).
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ROOT, runCli, spawnCli } from '../cli/run-cli.ts';

const PAGE = readFileSync(`${ROOT}docs/cli.md`, 'utf8');
const SESSION = PAGE.slice(PAGE.indexOf('## Example session'));

it('`tasker-ctl template validate workers/templates` prints what the example session shows', async () => {
  const result = await runCli(['template', 'validate', 'workers/templates']);
  expect(result.code, result.stderr).toBe(0);
  const start = SESSION.indexOf('$ tasker-ctl template validate workers/templates\n');
  const shown = SESSION.slice(start).split('\n').slice(1).filter((line, i, all) => all.slice(0, i + 1).every((l) => l !== ''));
  const printed = (result.stdout + result.stderr).trim().split('\n');
  expect(printed).toEqual(shown);
});

it('`tasker-ctl worker --handlers workers/dist/apps` lists the handlers and namespaces the example session shows', async () => {
  // An unreachable database: the handler line comes before the connection attempt.
  const run = spawnCli(['worker', '--handlers', 'workers/dist/apps', '--templates', 'workers/templates'], {
    databaseUrl: 'postgres://review:review-pw@127.0.0.1:1/none',
  });
  await run.waitFor(' handlers from workers/dist/apps');
  run.child.kill('SIGKILL');
  await run.exited;
  const printed = run.output().stderr.split('\n').find((line) => line.includes(' handlers from workers/dist/apps')) ?? '';
  const shown = SESSION.split('\n').find((line) => line.includes(' handlers from workers/dist/apps')) ?? '';
  const count = (line: string): string | undefined => /\[INFO\] (\d+) handlers/.exec(line)?.[1];
  const serving = (line: string): string | undefined => /; serving (.*)$/.exec(line)?.[1];
  expect(count(printed)).toBe(count(shown));
  expect(serving(printed)).toBe(serving(shown));
});
