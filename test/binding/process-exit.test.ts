/**
 * A process that used a native binding and drained its core exits by itself, on every runtime:
 * nothing the binding started (call threads, poll loops, timers) may hold the event loop. Bun's
 * call threads once did: adding a message listener re-ref'd a thread unref'd just before, so a
 * Bun process that had loaded the ffi binding never ended.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runChild } from '../support/child-process.ts';
import { single } from '../support/templates.ts';
import { launch } from '../support/runtime-launch.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = join(ROOT, 'test/binding/fixtures/open-and-drain.mjs');

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

const CELLS = (['node', 'bun', 'deno'] as const).flatMap((runtime) => (['napi', 'ffi'] as const).map((binding) => [runtime, binding] as const));

describe.each(CELLS)('%s with the %s binding', (runtime, binding) => {
  it('exits by itself once the core is drained', { timeout: 90_000 }, async () => {
    const namespace = `exit_${runtime}_${binding}`;
    await registerTemplate(db.pool, single(namespace));
    await createTask(db.pool, { namespace, name: 'single' });
    const [command, ...args] = launch(runtime, FIXTURE);
    const run = await runChild(command, args, {
      timeoutMs: 80_000,
      exitAfter: { output: /DONE/, withinMs: 15_000 },
      env: { ...process.env, DATABASE_URL: db.url, TEST_NAMESPACE: namespace, TASKER_BINDING: binding },
    });
    expect(run.stdout, `stderr:\n${run.stderr}`).toContain('DONE true');
    expect(run.hung, `still running 15 s after draining; stderr:\n${run.stderr}`).toBe(false);
    expect(run.code, `stderr:\n${run.stderr}`).toBe(0);
  });
});
