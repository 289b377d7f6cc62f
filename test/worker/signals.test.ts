/**
 * SIGTERM and SIGINT on Node, Bun and Deno: a worker process with a step running drains it
 * (the step completes and its report commits) and exits 0.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskerClient } from '../../sdk/src/client/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';
import { launch, type Runtime } from '../support/runtime-launch.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = join(ROOT, 'test/worker/fixtures/sleepy-worker.mjs');

let db: TestDatabase;
let client: TaskerClient;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new TaskerClient({ databaseUrl: db.url });
});

afterAll(async () => {
  await client.close();
  await db.drop();
});

/** The sleepy-worker fixture on `runtime` in `namespace`, with its output collected. */
function startFixture(runtime: Runtime, namespace: string, env: Record<string, string>) {
  const [command, ...args] = launch(runtime, FIXTURE);
  const child = spawn(command, args, {
    env: { ...process.env, DATABASE_URL: db.url, TEST_NAMESPACE: namespace, TASKER_BINDING: 'napi', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

const CELLS = (['node', 'bun', 'deno'] as const).flatMap((runtime) =>
  (['SIGTERM', 'SIGINT'] as const).map((signal) => [runtime, signal] as const),
);

describe.each(CELLS)('%s worker on %s', (runtime, signal) => {
  it('drains the running step and exits 0', { timeout: 60_000 }, async () => {
    const namespace = `sig_${runtime}_${signal.toLowerCase()}`;
    await registerTemplate(db.pool, template('t', [{ name: 's', handler: 'h.sleepy' }], namespace));
    const { child, output, exited } = startFixture(runtime, namespace, { SLEEP_MS: '800' });

    const { taskId } = await client.createTask({ namespace, name: 't' });
    const deadline = Date.now() + 45_000;
    while (!output.stdout.includes('STARTED') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (child.exitCode !== null) break;
    }
    expect(output.stdout, `the worker never started the step; stderr:\n${output.stderr}`).toContain('STARTED');
    child.kill(signal);
    const code = await exited;
    expect(code, `stderr:\n${output.stderr}`).toBe(0);
    expect(output.stdout).toContain('DRAINED');
    const task = await client.getTask(taskId);
    expect(task?.state).toBe('complete');
    expect(task?.steps[0]?.result).toEqual({ slept: 800 });
  });
});

describe.each(['node', 'bun', 'deno'] as const)('%s worker signalled while it starts', (runtime) => {
  it('starts, drains and exits 0 instead of dying with the default action', { timeout: 60_000 }, async () => {
    const namespace = `sig_${runtime}_early`;
    await registerTemplate(db.pool, template('t', [{ name: 's', handler: 'h.sleepy' }], namespace));
    const { output, exited } = startFixture(runtime, namespace, { SIGNAL_AT_START: 'SIGTERM' });
    expect(await exited, `stderr:\n${output.stderr}`).toBe(0);
    expect(output.stdout).toContain('DRAINED');
    expect(output.stderr).toContain('SIGTERM received while starting: draining');
  });
});
