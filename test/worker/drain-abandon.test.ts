/**
 * A drain ends once nothing is left to wait for: handlers aborted at shutdown are abandoned (not
 * reported, their leases left to lapse), and the core is told so (WorkerCore.abandon). Before,
 * the core kept waiting for their reports: stop(300) took 2.3 s, and a second SIGTERM (which
 * aborts at once) still exited only after the whole grace period plus 2 s.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BindingName } from '../../sdk/src/binding/types.ts';
import { defineHandler } from '../../sdk/src/handler/index.ts';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { sleep } from '../support/queue.ts';
import { template } from '../support/templates.ts';
import { closeEnv, openEnv, runTask, startWorker, type Env } from './worker-env.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BINDINGS: BindingName[] = ['pg', 'napi', 'ffi'];

let env: Env;
beforeAll(async () => {
  env = await openEnv();
});
afterAll(async () => {
  await closeEnv(env);
});

describe.each(BINDINGS)('%s binding', (binding) => {
  it('stop(300) returns soon after the grace period when its only running handler was aborted', async () => {
    let started = false;
    const stuck = defineHandler('h.stuck', async () => {
      started = true;
      await sleep(15_000);
      return 'never';
    });
    const namespace = `grace_${binding}`;
    const { worker } = await startWorker(env, binding, namespace, [stuck]);
    await runTask(env, namespace, [{ name: 's', handler: 'h.stuck' }]);
    while (!started) await sleep(10);
    const began = Date.now();
    const result = await worker.stop(300);
    const took = Date.now() - began;
    expect(result).toMatchObject({ aborted: 1, drain: { abandoned: 0, released: 0 } });
    expect(worker.stats().abandoned).toBe(1);
    expect(took, `stop(300) took ${took} ms`).toBeLessThan(1_500);
  });
});

describe.each(['pg', 'napi'] as const)('a worker process over %s', (binding) => {
  it('exits 0 soon after a second SIGTERM, not after the grace period', { timeout: 60_000 }, async () => {
    const namespace = `second_sigterm_${binding}`;
    await registerTemplate(env.db.pool, template('t', [{ name: 's', handler: 'h.sleepy' }], namespace));
    const child = spawn(process.execPath, [join(ROOT, 'test/worker/fixtures/sleepy-worker.mjs')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: env.db.url, TEST_NAMESPACE: namespace, TASKER_BINDING: binding, GRACE_MS: '15000', SLEEP_MS: '60000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await env.client.createTask({ namespace, name: 't' });
      const deadline = Date.now() + 30_000;
      while (!output.stdout.includes('STARTED') && Date.now() < deadline && child.exitCode === null) await sleep(50);
      expect(output.stdout, output.stderr).toContain('STARTED');
      child.kill('SIGTERM');
      await sleep(300);
      child.kill('SIGTERM');
      const secondAt = Date.now();
      const code = await Promise.race([exited, sleep(20_000).then(() => 'still running')]);
      const took = Date.now() - secondAt;
      expect(code, output.stderr.slice(-1500)).toBe(0);
      expect(output.stderr).toContain('received again: aborting running steps now');
      expect(took, `exit came ${took} ms after the second SIGTERM (grace 15 s)`).toBeLessThan(5_000);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
