/**
 * The shared binding suite: every case runs unchanged on every binding (napi, ffi, pg) and every
 * runtime (vitest on Node, bun test, deno test). Each case gets its own migrated database
 * (harness.ts) and asserts with node:assert. Cases assert on what the database and stats() say,
 * not on timing, except for bounds far above the behaviour's own time.
 */
import assert from 'node:assert/strict';
import {
  cancelTask,
  claimSteps,
  createTask,
  getTaskStatus,
  registerTemplate,
  type ClaimedStep,
  type JsonValue,
  type StepReport,
} from '../../sdk/src/protocol/index.ts';
import type { DeploymentMode } from '../../sdk/src/binding/types.ts';
import { archivedMessages, sendRaw } from '../support/queue.ts';
import { diamond, single, template } from '../support/templates.ts';
import type { BindingCase, BindingCaseContext } from './case.ts';
import {
  NS,
  nextOne,
  sleep,
  stepRow,
  success,
  taskStates,
  transitionsTo,
  waitFor,
  withCores,
  work,
} from './helpers.ts';

async function createTasks(context: BindingCaseContext, name: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 25) {
    const chunk = Array.from({ length: Math.min(25, count - start) }, (_, i) =>
      createTask(context.pool, { namespace: NS, name, context: { n: start + i } }),
    );
    ids.push(...(await Promise.all(chunk)).map((task) => task.taskId));
  }
  return ids;
}

const claimAndReportOne: BindingCase = {
  name: 'claims and reports a single step end to end',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      const { taskId } = await createTask(context.pool, { namespace: NS, name: 'single', context: { order: 42 } });
      const core = await cores.start();
      assert.equal(core.binding, context.bindingName);
      const step = await nextOne(core);
      assert.equal(step.taskId, taskId);
      assert.equal(step.stepName, 'only');
      assert.equal(step.handler, 'h.only');
      assert.equal(step.namespace, NS);
      assert.equal(step.attempt, 1);
      assert.equal(step.delivery, 1);
      assert.deepEqual(step.context, { order: 42 });
      assert.ok(step.leaseExpiresAt instanceof Date, 'leaseExpiresAt is a Date');
      assert.ok(step.leaseExpiresAt.getTime() > Date.now(), 'the lease is in the future');
      assert.equal(core.stats().inFlight, 1);

      const result = await core.report(success(step, { total: 7 }));
      assert.equal(result.accepted, true);
      assert.equal(result.stepId, step.stepId);
      assert.equal(result.stepState, 'complete');
      assert.equal(result.taskState, 'complete');

      const status = await getTaskStatus(context.pool, taskId);
      assert.equal(status?.state, 'complete');
      assert.deepEqual(status?.steps[0]?.results, { total: 7 });
      const stats = core.stats();
      assert.equal(stats.binding, context.bindingName);
      assert.equal(stats.claimed, 1);
      assert.equal(stats.reported, 1);
      assert.equal(stats.rejected, 0);
      assert.equal(stats.inFlight, 0);
      assert.equal(stats.buffered, 0);
      assert.deepEqual(await cores.drain(core), { abandoned: 0, released: 0 });
    }),
};

const diamondToCompletion: BindingCase = {
  name: 'runs a diamond to completion with dependency results delivered',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, diamond(NS));
      const { taskId } = await createTask(context.pool, { namespace: NS, name: 'diamond', context: { x: 1 } });
      const core = await cores.start();
      const seen = new Map<string, Record<string, JsonValue>>();
      const named = new Map<string, string[]>();
      await work(
        core,
        (step) => {
          seen.set(step.stepName, step.dependencyResults);
          named.set(step.stepName, [...step.dependencyNames].sort());
          return success(step, { from: step.stepName });
        },
        () => seen.size === 4 && core.stats().inFlight === 0,
      );
      assert.deepEqual(seen.get('a'), {});
      assert.deepEqual(seen.get('b'), { a: { from: 'a' } });
      assert.deepEqual(seen.get('c'), { a: { from: 'a' } });
      assert.deepEqual(seen.get('d'), { b: { from: 'b' }, c: { from: 'c' } });
      // The template's dependencies come with every claim, as the database returns them.
      assert.deepEqual(Object.fromEntries(named), { a: [], b: ['a'], c: ['a'], d: ['b', 'c'] });
      await waitFor('the task to complete', async () => (await getTaskStatus(context.pool, taskId))?.state === 'complete');
    }),
};

const batchNext: BindingCase = {
  name: 'next(max) hands out several buffered steps at once',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      await createTasks(context, 'single', 5);
      const core = await cores.start({ batchSize: 10 });
      await waitFor('5 steps buffered', () => core.stats().buffered === 5);
      const steps = await core.next(5, 1_000);
      assert.equal(steps.length, 5);
      assert.equal(new Set(steps.map((step) => step.stepId)).size, 5);
      assert.equal(core.stats().inFlight, 5);
      assert.equal(core.stats().buffered, 0);
      assert.deepEqual(await core.next(3, 200), [], 'nothing more to hand out');
      const results = await Promise.all(steps.map((step) => core.report(success(step))));
      assert.ok(results.every((result) => result.accepted));
    }),
};

const claimSizeGrows: BindingCase = {
  name: 'claims grow past batchSize while handlers empty the buffer faster than claims fill it',
  run: (context) =>
    withCores(context, async (cores) => {
      const n = 300;
      await registerTemplate(context.pool, single(NS));
      await createTasks(context, 'single', n);
      const core = await cores.start({ batchSize: 10, maxBatchSize: 50 });
      // A handler that finishes at once and does not wait for its report, as the Worker's slots.
      const reports: Promise<boolean>[] = [];
      while (reports.length < n) {
        const steps = await core.next(10, 5_000);
        assert.ok(steps.length > 0, `no step within 5 s after ${reports.length} of ${n}`);
        for (const step of steps) reports.push(core.report(success(step)).then((result) => result.accepted));
      }
      assert.ok((await Promise.all(reports)).every(Boolean), 'every report accepted');
      const claims = core.stats().claimRoundTrips;
      assert.ok(claims < n / 10, `${n} steps took ${claims} claims: at batchSize 10 alone it would be ${n / 10} or more`);
      assert.deepEqual(await taskStates(context.pool), { complete: n });
    }),
};

const reportBatching: BindingCase = {
  name: 'commits reports fired together in fewer round trips, all accepted',
  run: (context) =>
    withCores(context, async (cores) => {
      const n = 20;
      await registerTemplate(context.pool, single(NS));
      await createTasks(context, 'single', n);
      const core = await cores.start({ batchSize: 10, prefetch: n });
      const steps: ClaimedStep[] = [];
      await waitFor(`${n} steps claimed`, async () => {
        steps.push(...(await core.next(n, 100)));
        return steps.length === n;
      });
      const before = core.stats().reportRoundTrips;
      const results = await Promise.all(steps.map((step) => core.report(success(step))));
      assert.ok(results.every((result) => result.accepted), 'every report accepted');
      const roundTrips = core.stats().reportRoundTrips - before;
      assert.ok(roundTrips < n, `${n} reports took ${roundTrips} round trips`);
      assert.equal(core.stats().reported, n);
      assert.deepEqual(await taskStates(context.pool), { complete: n });
    }),
};

const loneReport: BindingCase = {
  name: 'sends a lone report at once in a round trip of its own (no linger by default)',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      await createTasks(context, 'single', 2);
      const core = await cores.start();
      const [first, second] = await core.next(2, 5_000).then(async (steps) =>
        steps.length === 2 ? steps : [...steps, await nextOne(core)],
      );
      assert.equal((await core.report(success(first!))).accepted, true);
      assert.equal(core.stats().reportRoundTrips, 1);
      assert.equal((await core.report(success(second!))).accepted, true);
      assert.equal(core.stats().reportRoundTrips, 2, 'the second report did not wait for company either');
    }),
};

const lingerWaitsForBatch: BindingCase = {
  name: 'with reportLingerMs, a report waits for company until the batch is full',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      await createTasks(context, 'single', 3);
      const core = await cores.start({ reportLingerMs: 30_000, reportBatchMax: 3 });
      const steps: ClaimedStep[] = [];
      await waitFor('3 steps claimed', async () => {
        steps.push(...(await core.next(3, 100)));
        return steps.length === 3;
      });
      let firstSettled = false;
      const first = core.report(success(steps[0]!)).finally(() => {
        firstSettled = true;
      });
      await sleep(300);
      assert.equal(firstSettled, false, 'a lingering report waits (linger 30 s)');
      assert.equal(core.stats().reportRoundTrips, 0);
      const rest = await Promise.all(steps.slice(1).map((step) => core.report(success(step))));
      assert.equal((await first).accepted, true);
      assert.ok(rest.every((result) => result.accepted));
      assert.equal(core.stats().reportRoundTrips, 1, 'the full batch went in one round trip');
    }),
};

const drainSendsLingeringReport: BindingCase = {
  name: 'drain sends a lingering report at once instead of refusing it',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      await createTasks(context, 'single', 1);
      const core = await cores.start({ reportLingerMs: 30_000, reportBatchMax: 10 });
      const step = await nextOne(core);
      const reported = core.report(success(step)).then(
        (result) => (result.accepted ? 'committed' : `rejected: ${result.reason}`),
        (error: unknown) => `refused: ${String(error)}`,
      );
      await sleep(200);
      // The linger (30 s) is far longer than the drain's deadline: the drain must not wait it out.
      const drained = await cores.drain(core, 10_000);
      assert.equal(await reported, 'committed');
      assert.deepEqual(drained, { abandoned: 0, released: 0 });
      assert.equal((await stepRow(context.pool, step.stepId)).state, 'complete');
    }),
};

const invalidReport: BindingCase = {
  name: 'report() of something that is not a report rejects with InvalidWorkerCoreArgumentError',
  run: (context) =>
    withCores(context, async (cores) => {
      const core = await cores.start();
      for (const bad of [undefined, null, {}]) {
        let outcome: string;
        try {
          outcome = await core.report(bad as unknown as StepReport).then(
            () => 'resolved',
            (error: unknown) => (error instanceof Error ? error.name : String(error)),
          );
        } catch (error) {
          outcome = `threw synchronously: ${String(error)}`;
        }
        assert.equal(outcome, 'InvalidWorkerCoreArgumentError', `report(${JSON.stringify(bad)})`);
      }
    }),
};

const retryableFailure: BindingCase = {
  name: 'redelivers a retryable failure as attempt 2 after its backoff',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS, { retry: { max_attempts: 3, backoff_ms: 300, max_backoff_ms: 1000 } }));
      await createTask(context.pool, { namespace: NS, name: 'single' });
      const core = await cores.start();
      const first = await nextOne(core);
      const failed = await core.report({
        stepId: first.stepId,
        attempt: first.attempt,
        delivery: first.delivery,
        outcome: 'retryable_failure',
        error: { message: 'try again' },
      });
      assert.equal(failed.accepted, true);
      assert.equal(failed.stepState, 'waiting_for_retry');
      assert.ok(failed.nextRetryAt instanceof Date, 'nextRetryAt is a Date');
      const second = await nextOne(core, 10_000);
      const claimedAt = Date.now();
      assert.equal(second.stepId, first.stepId);
      assert.equal(second.attempt, 2);
      assert.equal(second.delivery, 1);
      // Backoff 300 ms (+ up to 25% jitter): not visible before nextRetryAt (same host clock; 50 ms slack).
      assert.ok(claimedAt >= failed.nextRetryAt.getTime() - 50, 'attempt 2 came after the backoff');
      assert.equal((await core.report(success(second))).accepted, true);
    }),
};

const heartbeatKeepsLease: BindingCase = {
  name: 'heartbeats keep a 1 s lease from being redelivered while the step runs 2.5 s',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      await createTask(context.pool, { namespace: NS, name: 'single' });
      const core = await cores.start({ leaseSeconds: 1 });
      const step = await nextOne(core);
      const until = Date.now() + 2_500;
      while (Date.now() < until) {
        const intruder = await claimSteps(context.pool, { namespace: NS, batchSize: 10, leaseSeconds: 30, workerId: 'intruder' });
        assert.deepEqual(intruder.claimed, [], 'the running step was not handed to anyone else');
        await sleep(250);
      }
      assert.ok(core.stats().leaseExtensions >= 4, `leases extended ${core.stats().leaseExtensions} times`);
      assert.deepEqual(core.takeAborted(), []);
      const result = await core.report(success(step));
      assert.equal(result.accepted, true);
      assert.equal((await stepRow(context.pool, step.stepId)).deliveries, 1);
    }),
};

const abortOnCancel: BindingCase = {
  name: 'names a running step of a cancelled task in takeAborted()',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      const { taskId } = await createTask(context.pool, { namespace: NS, name: 'single' });
      const core = await cores.start({ heartbeatMs: 100 });
      const step = await nextOne(core);
      const cancelled = await cancelTask(context.pool, taskId, { reason: 'binding suite', actor: 'test' });
      assert.equal(cancelled.state, 'cancelled');
      const aborted: string[] = [];
      await waitFor('takeAborted() to name the step', () => {
        aborted.push(...core.takeAborted());
        return aborted.includes(step.stepId);
      }, 5_000);
      assert.deepEqual(aborted, [step.stepId]);
      const result = await core.report(success(step));
      assert.equal(result.taskState, 'cancelled');
      await sleep(300);
      assert.deepEqual(core.takeAborted(), [], 'a reported step is not named again');
    }),
};

const drainReleasesAndWaits: BindingCase = {
  name: 'drain gives buffered steps back at once and waits for in-flight reports',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      await createTasks(context, 'single', 6);
      const core = await cores.start({ batchSize: 10, prefetch: 10 });
      await waitFor('6 steps buffered', () => core.stats().buffered === 6);
      const running = await nextOne(core);
      let drained = false;
      const draining = cores.drain(core, 15_000).finally(() => {
        drained = true;
      });
      assert.deepEqual(await core.next(5, 5_000), [], 'next() returns [] once draining');
      await waitFor('5 buffered steps released', () => core.stats().released === 5, 5_000);
      const other = await claimSteps(context.pool, { namespace: NS, batchSize: 10, leaseSeconds: 30, workerId: 'other' });
      assert.equal(other.claimed.length, 5, 'released steps are claimable at once');
      assert.ok(!other.claimed.some((step) => step.stepId === running.stepId));
      await sleep(200);
      assert.equal(drained, false, 'drain waits for the in-flight step');
      assert.equal((await core.report(success(running))).accepted, true);
      assert.deepEqual(await draining, { abandoned: 0, released: 5 });
      assert.equal((await stepRow(context.pool, running.stepId)).state, 'complete');
    }),
};

const abandonLetsGo: BindingCase = {
  name: 'abandon() lets a step go unreported: drain stops waiting for it and its lease lapses',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      await createTasks(context, 'single', 1);
      const core = await cores.start({ leaseSeconds: 1 });
      const running = await nextOne(core);
      assert.equal(core.abandon(running.stepId, running.attempt + 1), false, 'another attempt is not in flight');
      assert.equal(core.abandon(running.stepId, running.attempt), true);
      assert.equal(core.abandon(running.stepId, running.attempt), false, 'abandoned once');
      assert.equal(core.stats().inFlight, 0);
      const started = Date.now();
      assert.deepEqual(await cores.drain(core, 15_000), { abandoned: 0, released: 0 });
      assert.ok(Date.now() - started < 5_000, `drain took ${Date.now() - started} ms`);
      // No heartbeat extends it any more: another worker gets it once the 1 s lease lapses.
      await waitFor('the abandoned step claimable elsewhere', async () => {
        const other = await claimSteps(context.pool, { namespace: NS, batchSize: 1, leaseSeconds: 30, workerId: 'other' });
        return other.claimed.some((step) => step.stepId === running.stepId && step.attempt === running.attempt);
      }, 10_000);
    }),
};

function picksUpNewWork(mode: DeploymentMode): BindingCase {
  return {
    name: `${mode}: picks up work created after the core started`,
    run: (context) =>
      withCores(context, async (cores) => {
        await registerTemplate(context.pool, single(NS, { retry: { max_attempts: 3, backoff_ms: 1000 } }));
        // A short poll interval: a core that polled where it must not would show it at once.
        const core = await cores.start({ mode, pollIntervalMs: 100 });
        assert.deepEqual(await core.next(1, 300), [], 'nothing to do yet');
        const idleFrom = core.stats().claimRoundTrips;
        await sleep(800);
        const idleClaims = core.stats().claimRoundTrips - idleFrom;
        if (mode === 'EventDrivenOnly') assert.ok(idleClaims <= 1, `EventDrivenOnly never polls: ${idleClaims} claims in 800 ms idle`);
        else assert.ok(idleClaims >= 3, `${mode} polls every 100 ms: ${idleClaims} claims in 800 ms idle`);
        const { taskId } = await createTask(context.pool, { namespace: NS, name: 'single' });
        const step = await nextOne(core, 5_000);
        assert.equal(step.taskId, taskId);
        if (mode !== 'EventDrivenOnly') {
          assert.equal((await core.report(success(step))).accepted, true);
          return;
        }
        // Event-driven only: a retry announced with a delay must wake the core when it is due.
        const failed = await core.report({ ...success(step), outcome: 'retryable_failure', retryAfterMs: 400 });
        assert.equal(failed.stepState, 'waiting_for_retry');
        const retry = await nextOne(core, 5_000);
        assert.equal(retry.attempt, 2);
        assert.equal((await core.report(success(retry))).accepted, true);
      }),
  };
}

const reportWakesClaims: BindingCase = {
  name: 'a report that enqueued successors wakes the claim loop at once',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(
        context.pool,
        template('chain', [
          { name: 'first', handler: 'h.first' },
          { name: 'second', handler: 'h.second', dependencies: ['first'] },
        ], NS),
      );
      await createTask(context.pool, { namespace: NS, name: 'chain' });
      // Polling every 20 s and no LISTEN: only the report (its claim, or the claim loop's wake-up
      // when it has no room) can bring `second` soon.
      const core = await cores.start({ mode: 'PollingOnly', pollIntervalMs: 20_000 });
      const first = await nextOne(core);
      const result = await core.report(success(first));
      assert.equal(result.enqueued, 1);
      const second = await nextOne(core, 5_000);
      assert.equal(second.stepName, 'second');
      assert.equal((await core.report(success(second))).taskState, 'complete');
    }),
};

const reportClaimsSuccessor: BindingCase = {
  name: "a report claims its step's ready successor in the same round trip",
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(
        context.pool,
        template('chain3', [
          { name: 'first', handler: 'h.first' },
          { name: 'second', handler: 'h.second', dependencies: ['first'] },
          { name: 'third', handler: 'h.third', dependencies: ['second'] },
        ], NS),
      );
      const { taskId } = await createTask(context.pool, { namespace: NS, name: 'chain3' });
      // No LISTEN and no poll for 20 s: after the first claim, only the reports can bring work.
      const core = await cores.start({ mode: 'PollingOnly', pollIntervalMs: 20_000 });
      let step = await nextOne(core);
      const claimsBefore = core.stats().claimRoundTrips;
      for (const name of ['second', 'third']) {
        const result = await core.report(success(step, { from: step.stepName }));
        assert.equal(result.enqueued, 1);
        // Buffered before the report resolved: taken without waiting.
        const [next] = await core.next(1, 0);
        assert.ok(next !== undefined, `${name} was claimed with the report of ${step.stepName}`);
        assert.equal(next.stepName, name);
        assert.deepEqual(next.dependencyResults, { [step.stepName]: { from: step.stepName } });
        assert.deepEqual(next.dependencyNames, [step.stepName]);
        step = next;
      }
      assert.equal((await core.report(success(step))).taskState, 'complete');
      const stats = core.stats();
      assert.equal(stats.claimRoundTrips, claimsBefore, 'no claim round trip was needed for the successors');
      assert.equal(stats.claimed, 3);
      assert.equal(stats.reported, 3);
      assert.equal((await getTaskStatus(context.pool, taskId))?.state, 'complete');
    }),
};

const poisonMessages: BindingCase = {
  name: 'discards poison messages, counts them and never hands them out',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      await sendRaw(context.pool, NS, { garbage: true });
      await sendRaw(context.pool, NS, 'not even an object');
      await sendRaw(context.pool, NS, { step_id: '00000000-0000-4000-8000-000000000000', attempt: 1 });
      const { taskId } = await createTask(context.pool, { namespace: NS, name: 'single' });
      const core = await cores.start();
      const steps = await core.next(10, 5_000);
      assert.equal(steps.length, 1);
      assert.equal(steps[0]!.taskId, taskId);
      await waitFor('3 discards counted', () => core.stats().discarded === 3, 5_000);
      assert.deepEqual(await core.next(10, 300), [], 'nothing else is handed out');
      assert.equal((await archivedMessages(context.pool, NS)).length, 3);
      assert.equal((await core.report(success(steps[0]!))).accepted, true);
    }),
};

const exactlyOnce: BindingCase = {
  name: 'completes 300 steps exactly once across 3 cores on one namespace',
  run: (context) =>
    withCores(context, async (cores) => {
      const total = 300;
      await registerTemplate(context.pool, single(NS));
      await createTasks(context, 'single', total);
      const workers = await Promise.all([1, 2, 3].map(() => cores.start({ batchSize: 10 })));
      const handled = new Map<string, number>();
      let accepted = 0;
      await Promise.all(
        workers.map((core) =>
          work(
            core,
            (step) => {
              handled.set(step.stepId, (handled.get(step.stepId) ?? 0) + 1);
              return success(step);
            },
            () => accepted >= total,
            {
              timeoutMs: 40_000,
              onResult: (_step, result) => {
                if (result.accepted) accepted += 1;
              },
            },
          ),
        ),
      );
      assert.equal(handled.size, total);
      assert.ok([...handled.values()].every((n) => n === 1), 'every step was handed out once');
      const completions = await transitionsTo(context.pool, 'complete');
      assert.equal(completions.size, total);
      assert.ok([...completions.values()].every((n) => n === 1), 'every step completed exactly once');
      assert.deepEqual(await taskStates(context.pool), { complete: total });
      const stats = workers.map((core) => core.stats());
      assert.equal(stats.reduce((sum, s) => sum + s.reported, 0), total);
      assert.equal(stats.reduce((sum, s) => sum + s.rejected, 0), 0);
    }),
};

const leaseAdoption: BindingCase = {
  name: 'adopts its own expired lease instead of handing the step out twice',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      await createTask(context.pool, { namespace: NS, name: 'single' });
      // No heartbeat within the test: the 2 s lease expires while the step runs, and this core's
      // own claim loop (polling every 100 ms) gets the step again with delivery 2.
      const core = await cores.start({ mode: 'PollingOnly', leaseSeconds: 2, heartbeatMs: 600_000 });
      const step = await nextOne(core);
      assert.equal(step.delivery, 1);
      await waitFor('the core to claim the step again', () => core.stats().claimed >= 2, 6_000);
      assert.deepEqual(await core.next(1, 200), [], 'the adopted step is not handed out again');
      assert.equal(core.stats().inFlight, 1);
      assert.equal(core.stats().buffered, 0);
      // The handler still quotes delivery 1; the core reports under the lease it holds now.
      const result = await core.report(success(step));
      assert.equal(result.accepted, true, `report accepted (reason: ${result.reason})`);
      const row = await stepRow(context.pool, step.stepId);
      assert.equal(row.state, 'complete');
      assert.ok(row.deliveries >= 2, `delivered ${row.deliveries} times`);
    }),
};

const recoversConnections: BindingCase = {
  name: 'recovers from terminated connections: re-listens, claims and commits reports',
  run: (context) =>
    withCores(context, async (cores) => {
      await registerTemplate(context.pool, single(NS));
      await createTask(context.pool, { namespace: NS, name: 'single' });
      const core = await cores.start({ mode: 'EventDrivenOnly' });
      const running = await nextOne(core);
      await sleep(200);
      const { rows } = await context.pool.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
      );
      assert.ok(rows[0]!.n >= 1, 'connections were terminated');
      // Reported while the core's connections are gone: retried until committed.
      const reported = await core.report(success(running));
      assert.equal(reported.accepted, true);
      await waitFor('a reconnect to be counted', () => core.stats().reconnects >= 1, 10_000);
      // Work announced after recovery reaches the event-driven core through its new LISTEN.
      const { taskId } = await createTask(context.pool, { namespace: NS, name: 'single' });
      const step = await nextOne(core, 5_000);
      assert.equal(step.taskId, taskId);
      assert.equal((await core.report(success(step))).accepted, true);
    }),
};

/** Every case of the suite, in the order runners register them. */
export const bindingCases: BindingCase[] = [
  claimAndReportOne,
  diamondToCompletion,
  batchNext,
  claimSizeGrows,
  reportBatching,
  loneReport,
  lingerWaitsForBatch,
  drainSendsLingeringReport,
  invalidReport,
  retryableFailure,
  heartbeatKeepsLease,
  abortOnCancel,
  drainReleasesAndWaits,
  abandonLetsGo,
  picksUpNewWork('Hybrid'),
  picksUpNewWork('EventDrivenOnly'),
  picksUpNewWork('PollingOnly'),
  reportWakesClaims,
  reportClaimsSuccessor,
  poisonMessages,
  exactlyOnce,
  leaseAdoption,
  recoversConnections,
];
