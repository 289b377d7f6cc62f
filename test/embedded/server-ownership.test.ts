/**
 * The process that happened to start the embedded server stops it when it is done, even when other
 * processes attached to it afterwards: a `tasker-ctl db start` that reported "was already running"
 * (whose help promises the server "keeps running until `tasker-ctl db stop`"), or a second worker,
 * demo or test run that is still using it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedPostgresStatus, resolveDatabase, withClient } from '../../sdk/src/index.ts';
import { runCli, scratch } from './helpers.ts';

let dir: Awaited<ReturnType<typeof scratch>>;
beforeAll(async () => {
  dir = await scratch('owner');
});
afterAll(async () => {
  await dir.cleanup();
});

describe('embedded server shared by several processes', () => {
  it('`db start` on a server another command started keeps it running after that command ends', async () => {
    const stateDir = dir.stateDir('db-start');
    // What `npm run demo`, `tasker-ctl orchestrator`, `tasker-ctl worker` or `tasker-ctl migrate` do
    // when no server runs: resolveDatabase() starts one for the duration of the command.
    const command = await resolveDatabase({ stateDir, env: {} });
    expect(command.embedded?.reused).toBe(false);

    const start = await runCli(['db', 'start', '--dir', stateDir], stateDir);
    expect(start.code).toBe(0);
    expect(start.out).toContain('was already running');

    // The other command finishes.
    await command.release();

    // `db start` said the server runs, and its help says it "keeps running until `tasker-ctl db stop`".
    const status = await embeddedPostgresStatus({ stateDir });
    expect(status.state, 'server stopped behind the back of `tasker-ctl db start`').toBe('running');
  });

  it('a process still using the server is not cut off when the process that started it finishes', async () => {
    const stateDir = dir.stateDir('two-users');
    const first = await resolveDatabase({ stateDir, env: {} }); // e.g. `tasker-ctl orchestrator`
    const second = await resolveDatabase({ stateDir, env: {} }); // e.g. `tasker-ctl worker` in another terminal
    expect([first.embedded?.reused, second.embedded?.reused]).toEqual([false, true]);

    await first.release(); // Ctrl-C on the orchestrator

    const stillWorks = await withClient(second.url, (client) => client.query('SELECT 1 AS one'))
      .then((r) => `ok ${String(r.rows[0]?.one)}`)
      .catch((error: unknown) => `failed: ${(error as Error).message}`);
    expect(stillWorks).toBe('ok 1');
    await second.release();
  });
});
