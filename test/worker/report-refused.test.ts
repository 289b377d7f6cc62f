/**
 * A report the worker core refuses before it reaches the database (the napi core refused reports
 * over 64 MiB so) must not leave its step in flight with its lease extended for ever: the worker
 * reports a permanent ReportRefused failure instead, and when even that is refused it lets the
 * step go (WorkerCore.abandon), so its lease lapses and the step is delivered again. The refusal
 * is staged by wrapping the binding's report().
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidWorkerCoreArgumentError } from '../../sdk/src/binding/errors.ts';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import type { WorkerCore } from '../../sdk/src/binding/types.ts';
import { defineHandler } from '../../sdk/src/handler/index.ts';
import type { ReportResult, StepReport } from '../../sdk/src/protocol/types.ts';
import { closeEnv, openEnv, runTask, startWorker, type Env } from './worker-env.ts';

let env: Env;
beforeAll(async () => {
  env = await openEnv();
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await closeEnv(env);
});

/** The prototype every core of `binding` shares, whose report() the tests wrap. */
async function coreClass(binding: 'pg' | 'napi'): Promise<{ report(report: StepReport): Promise<ReportResult> }> {
  const probe = await (await loadBinding(binding, { allowFallback: false })).createWorkerCore({ databaseUrl: env.db.url, workerId: 'probe', namespaces: ['unused_probe'] });
  await probe.drain(0);
  return Object.getPrototypeOf(probe) as { report(report: StepReport): Promise<ReportResult> };
}

describe.each(['pg', 'napi'] as const)('a worker over %s', (binding) => {
  it('fails the step as ReportRefused when the core refuses its report', { timeout: 40_000 }, async () => {
    const proto = await coreClass(binding);
    const original = proto.report;
    vi.spyOn(proto, 'report').mockImplementation(function (this: WorkerCore, report: StepReport) {
      if (report.outcome === 'success') return Promise.reject(new InvalidWorkerCoreArgumentError('a stand-in refusal'));
      return original.call(this, report);
    });
    const ns = `refused_${binding}`;
    const { worker } = await startWorker(env, binding, ns, [defineHandler('h.ok', () => ({ ok: true }))]);
    const taskId = await runTask(env, ns, [{ name: 's', handler: 'h.ok', retry: { max_attempts: 3 } }]);
    const task = await env.client.waitForTask(taskId, { timeoutMs: 15_000 });
    expect(task.state).toBe('error');
    expect(task.steps[0]?.error).toMatchObject({ kind: 'ReportRefused' });
    expect(String(task.steps[0]?.error?.['message'])).toContain('a stand-in refusal');
    await expect.poll(() => worker.stats()).toMatchObject({ failed: 1, running: 0, reporting: 0 });
  });

  it('lets the step go when every report of it is refused, so it is delivered again', { timeout: 40_000 }, async () => {
    const proto = await coreClass(binding);
    const original = proto.report;
    let refusals = 0;
    vi.spyOn(proto, 'report').mockImplementation(function (this: WorkerCore, report: StepReport) {
      // The first delivery's report and its ReportRefused fallback are both refused.
      if (report.delivery === 1 && refusals < 2) {
        refusals += 1;
        return Promise.reject(new InvalidWorkerCoreArgumentError('a stand-in refusal'));
      }
      return original.call(this, report);
    });
    const ns = `let_go_${binding}`;
    let runs = 0;
    const { worker } = await startWorker(env, binding, ns, [defineHandler('h.ok', () => ({ runs: (runs += 1) }))], {
      core: { pollIntervalMs: 50, leaseSeconds: 1 },
    });
    const taskId = await runTask(env, ns, [{ name: 's', handler: 'h.ok', retry: { max_attempts: 3 } }]);
    const task = await env.client.waitForTask(taskId, { timeoutMs: 20_000 });
    expect(task.state).toBe('complete');
    expect(task.steps[0]).toMatchObject({ attempt: 1, result: { runs: 2 } });
    expect(refusals).toBe(2);
    await expect.poll(() => worker.stats().core?.inFlight).toBe(0);
  });
});
