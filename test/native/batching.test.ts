/**
 * How the native adapters feed the Rust core so it can batch (issue 3): the reports of one
 * event-loop turn cross together (turn-batch.ts), callers with nothing buffered share one native
 * wait and take their steps in one turn (step-wait.ts), and the C ABI's completion queue brings
 * many results back through one blocking call (ffi/completions.ts). The units run without a
 * database; the last cases check, on a real core per native binding, that ten handler slots
 * commit their ten reports in one round trip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerCoreClosedError } from '../../sdk/src/binding/errors.ts';
import { CompletionQueue } from '../../sdk/src/binding/ffi/completions.ts';
import type { CompletionCalls } from '../../sdk/src/binding/ffi/library.ts';
import { StepWait } from '../../sdk/src/binding/step-wait.ts';
import { TurnBatch } from '../../sdk/src/binding/turn-batch.ts';
import type { BindingModule, WorkerCore } from '../../sdk/src/binding/types.ts';
import type { ClaimedStep } from '../../sdk/src/protocol/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('TurnBatch', () => {
  it('hands over what one turn added in one go, within its limits', async () => {
    const handed: number[][] = [];
    const batch = new TurnBatch<number>((items) => handed.push(items), { items: 3, weight: 100 });
    for (const n of [1, 2, 3, 4]) batch.add(n, 1);
    batch.add(5, 100); // would pass the weight limit: what is there goes first
    expect(handed).toEqual([[1, 2, 3], [4]]);
    await turn();
    expect(handed).toEqual([[1, 2, 3], [4], [5]]);
    batch.add(6, 1);
    await turn();
    expect(handed).toEqual([[1, 2, 3], [4], [5], [6]]);
  });
});

describe('StepWait', () => {
  const step = (n: number): ClaimedStep => ({ stepId: `s${n}` }) as ClaimedStep;

  it('takes at once what is buffered, and shares one native wait between every waiting caller', async () => {
    const buffer: ClaimedStep[] = [step(0)];
    const take = (): ClaimedStep[] => buffer.splice(0, 1);
    let waits = 0;
    let wake: () => void = () => {};
    const steps = new StepWait(() => {
      waits += 1;
      return new Promise<void>((resolve) => (wake = resolve));
    });
    expect(await steps.next(take, 1_000, () => false)).toEqual([step(0)]);
    expect(waits).toBe(0);

    const waiting = Array.from({ length: 5 }, () => steps.next(take, 5_000, () => false));
    await turn();
    expect(waits).toBe(1);
    buffer.push(step(1), step(2), step(3), step(4), step(5));
    wake();
    const got = await Promise.all(waiting);
    expect(got.map((s) => s[0]?.stepId)).toEqual(['s1', 's2', 's3', 's4', 's5']);
  });

  it('answers [] at its own timeout, or once stopped, and waits again when others took the steps', async () => {
    const buffer: ClaimedStep[] = [];
    const take = (): ClaimedStep[] => buffer.splice(0, 1);
    let waits = 0;
    const wakes: Array<() => void> = [];
    const steps = new StepWait(() => {
      waits += 1;
      return new Promise<void>((resolve) => wakes.push(resolve));
    });
    const started = performance.now();
    expect(await steps.next(take, 30, () => false)).toEqual([]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(await steps.next(take, 0, () => false)).toEqual([]);

    let stopped = false;
    const first = steps.next(take, 5_000, () => stopped);
    const second = steps.next(take, 5_000, () => stopped);
    await turn();
    buffer.push(step(1));
    wakes.shift()?.();
    expect(await first).toEqual([step(1)]);
    await turn();
    // Both joined the first caller's wait, still running; the second found nothing left and waits again.
    expect(waits).toBe(2);
    stopped = true;
    wakes.shift()?.();
    expect(await second).toEqual([]);
  });
});

describe('CompletionQueue', () => {
  /** A stand-in for the C ABI's completion calls: results are released by the test. */
  function fakeCalls(): { calls: CompletionCalls; release(items: unknown[]): void; polls: () => number; close(): void } {
    let pending: Array<(text: string) => void> = [];
    let polls = 0;
    let closed = false;
    const calls: CompletionCalls = {
      submitReports: () => '{"ok":true,"value":0}',
      submitWait: () => '{"ok":true,"value":null}',
      completions: () => {
        polls += 1;
        if (closed) return Promise.resolve('{"ok":false,"error":{"code":"CORE_CLOSED","message":"closed"}}');
        return new Promise((resolve) => pending.push(resolve));
      },
    };
    return {
      calls,
      release: (items) => {
        const waiting = pending;
        pending = [];
        for (const resolve of waiting) resolve(JSON.stringify({ ok: true, value: items }));
      },
      polls: () => polls,
      close: () => {
        closed = true;
        const waiting = pending;
        pending = [];
        for (const resolve of waiting) resolve('{"ok":true,"value":[]}');
      },
    };
  }

  it('settles each ticket from the results of one poll, and polls only while tickets are out', async () => {
    const fake = fakeCalls();
    const queue = new CompletionQueue(fake.calls, 1);
    queue.poll();
    expect(fake.polls()).toBe(0);
    const a = queue.expect('op');
    const b = queue.expect('op');
    const c = queue.expect('op');
    queue.poll();
    queue.poll();
    expect(fake.polls()).toBe(1);
    fake.release([
      { ticket: b.ticket, ok: true, value: 'b' },
      { ticket: a.ticket, ok: false, error: { code: 'CORE_CLOSED', message: 'closed' } },
      { ticket: 999, ok: true, value: 'nobody asked' },
    ]);
    expect(await b.settled).toBe('b');
    await expect(a.settled).rejects.toBeInstanceOf(WorkerCoreClosedError);
    await turn();
    expect(fake.polls()).toBe(2); // c is still out
    fake.release([{ ticket: c.ticket, ok: true, value: 'c' }]);
    expect(await c.settled).toBe('c');
    await turn();
    expect(fake.polls()).toBe(2);
  });

  it('ends with the drain: delivers what the drain handed over and settles the rest as orphans', async () => {
    const fake = fakeCalls();
    const queue = new CompletionQueue(fake.calls, 1);
    const report = queue.expect('report');
    const wait = queue.expect('wait');
    const lost = queue.expect('report');
    queue.poll();
    fake.close();
    await queue.end([{ ticket: report.ticket, ok: true, value: 'committed' }], (operation) =>
      operation === 'wait' ? { value: false } : { error: new WorkerCoreClosedError() },
    );
    expect(await report.settled).toBe('committed');
    expect(await wait.settled).toBe(false);
    await expect(lost.settled).rejects.toBeInstanceOf(WorkerCoreClosedError);
  });

  it('fails every outstanding ticket when the poll itself breaks', async () => {
    const broken: CompletionCalls = {
      submitReports: () => '',
      submitWait: () => '',
      completions: () => Promise.reject(new Error('thread died')),
    };
    const queue = new CompletionQueue(broken, 1);
    const a = queue.expect('op');
    queue.poll();
    await expect(a.settled).rejects.toThrow('thread died');
  });
});

describe.each(['napi', 'ffi'] as const)('the %s binding batches a turn of reports', (name) => {
  let db: TestDatabase;
  let binding: BindingModule;
  let core: WorkerCore | undefined;
  const ns = `batch_${name}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    binding =
      name === 'napi' ? (await import('../../sdk/src/binding/napi.ts')).napiBinding : (await import('../../sdk/src/binding/ffi/index.ts')).ffiBinding;
    await db.pool.query('SELECT * FROM tasker.register_template($1::jsonb)', [
      JSON.stringify({ namespace: ns, name: 'one', version: '1.0.0', steps: [{ name: 'only', handler: 'noop' }] }),
    ]);
  });

  afterAll(async () => {
    await core?.drain(2_000);
    await db.drop();
  });

  const createTasks = async (count: number): Promise<void> => {
    await db.pool.query("SELECT count(*) FROM (SELECT tasker.create_task($1, 'one', NULL, '{}'::jsonb) FROM generate_series(1, $2)) t", [
      ns,
      count,
    ]);
  };

  it('ten slots waiting on an empty queue get their steps together and commit them in one round trip', async () => {
    const started = await binding.createWorkerCore({ databaseUrl: db.url, workerId: `batch-${name}`, namespaces: [ns], batchSize: 10, prefetch: 10 });
    core = started;
    const slots = Array.from({ length: 10 }, async () => {
      const [step] = await started.next(1, 10_000);
      if (step === undefined) throw new Error('no step within 10 s');
      return started.report({ stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success' });
    });
    await sleep(50); // every slot waits before the work exists
    await createTasks(10);
    const results = await Promise.all(slots);
    expect(results.every((r) => r.accepted)).toBe(true);
    const stats = started.stats();
    expect(stats.reported).toBe(10);
    expect(stats.reportRoundTrips).toBe(1);
  });
});
