/**
 * Review: `task create --wait --json` — docs/cli.md: "--json: print {taskId, created, state}; with
 * --wait, the finished task as `task get --json` prints it", and "Output meant for scripts goes to
 * stdout (... everything --json prints); progress and [INFO]/[SUCCESS]/[ERROR] lines of the task
 * and template commands go to stderr". So stdout must be the JSON document alone, also when the
 * task completes (the existing test covers only a task ending in error).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimSteps, registerTemplate, reportStep } from '../../sdk/src/protocol/index.ts';
import { parseTemplate } from '../../sdk/src/template/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { FIXTURES, spawnCli } from '../cli/run-cli.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  const file = join(FIXTURES, 'templates', 'greeting.yaml');
  await registerTemplate(db.pool, parseTemplate(await readFile(file, 'utf8'), file));
});

afterAll(async () => {
  await db.drop();
});

/** Plays the worker: runs every enqueued cli_demo step to success until none is left. */
async function completeEnqueuedSteps(): Promise<number> {
  let done = 0;
  for (let round = 0; round < 10; round += 1) {
    const { claimed } = await claimSteps(db.pool, { namespace: 'cli_demo', batchSize: 50, leaseSeconds: 30 });
    if (claimed.length === 0) break;
    for (const step of claimed) {
      await reportStep(db.pool, { stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success', result: { ok: true } });
      done += 1;
    }
  }
  return done;
}

describe('task create --wait --json', () => {
  it('prints only the finished task as JSON on stdout when the task completes (exit 0)', async () => {
    const run = spawnCli(['task', 'create', 'cli_demo/greeting', '--context', '{"name":"ada"}', '--wait', '--wait-timeout-ms', '20000', '--json'], {
      databaseUrl: db.url,
    });
    try {
      await run.waitFor('[SUCCESS] created task');
      expect(await completeEnqueuedSteps()).toBe(2);
      const code = await run.exited;
      const { stdout, stderr } = run.output();
      expect(code, stderr).toBe(0);
      // The first line of stdout must open the JSON document.
      expect(stdout.split('\n')[0]).toBe('{');
      expect(JSON.parse(stdout)).toMatchObject({ state: 'complete' });
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});
