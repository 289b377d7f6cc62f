/**
 * A worker cut off from the database for longer than a lease stops the handler of a running step
 * (LeaseLapsedError on its signal) and does not report it: by then another worker may be running
 * the step, and when the network comes back the step runs again without losing an attempt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineHandler, LeaseLapsedError } from '../../sdk/src/handler/index.ts';
import { DbProxy } from '../support/db-proxy.ts';
import { sleep } from '../support/queue.ts';
import { closeEnv, openEnv, runTask, startWorker, type Env } from './worker-env.ts';

let env: Env;
beforeAll(async () => {
  env = await openEnv();
});
afterAll(async () => {
  await closeEnv(env);
});

describe.each(['pg', 'napi', 'ffi'] as const)('a worker over %s', (binding) => {
  it('stops a handler whose lease lapsed, does not report it, and runs the step again', { timeout: 60_000 }, async () => {
    const proxy = await DbProxy.start(env.db.url);
    try {
      const ns = `lapse_worker_${binding}`;
      const reasons: unknown[] = [];
      let runs = 0;
      const handler = defineHandler('h.waits', async (ctx) => {
        runs += 1;
        if (runs > 1) return { runs };
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        reasons.push(ctx.signal.reason);
        throw ctx.signal.reason;
      });
      const taskId = await runTask(env, ns, [{ name: 's', handler: 'h.waits', retry: { max_attempts: 1 } }]);
      const { worker } = await startWorker(env, binding, ns, [handler], {
        databaseUrl: proxy.url(env.db.url),
        core: { pollIntervalMs: 50, leaseSeconds: 2 },
      });
      while (runs === 0) await sleep(20);
      proxy.freeze();
      while (reasons.length === 0) await sleep(50);
      expect(reasons[0]).toBeInstanceOf(LeaseLapsedError);
      expect(worker.stats()).toMatchObject({ abandoned: 1, failed: 0, retried: 0 });
      proxy.thaw();
      proxy.cutAll();
      const task = await env.client.waitForTask(taskId, { timeoutMs: 30_000 });
      // max_attempts 1: had the lapse been reported as a failure, the task would be in error.
      expect(task.state).toBe('complete');
      expect(task.steps[0]).toMatchObject({ attempt: 1, deliveries: 2, result: { runs: 2 } });
      await worker.stop(5_000);
    } finally {
      await proxy.destroy();
    }
  });
});
