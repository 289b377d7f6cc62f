/**
 * Small tools for the binding cases: cores that are always drained at the end of a case, waiting
 * for a condition with a bound, a handler loop, and counting transitions in SQL. Runtime-neutral
 * (no test framework): failures throw node:assert errors.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { ClaimedStep, ReportResult, StepReport } from '../../sdk/src/protocol/types.ts';
import type { WorkerCore, WorkerCoreConfig } from '../../sdk/src/binding/types.ts';
import type { BindingCaseContext } from './case.ts';

/** The namespace the cases work in (each case has its own database). */
export const NS = 'bind_ns';

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 20 ms until it is true; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Resolves with `promise`, or fails naming `what` if it has not settled after `timeoutMs`. */
export async function bounded<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `${what} did not settle within ${timeoutMs} ms` })), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeUp]);
  } finally {
    clearTimeout(timer);
  }
}

/** Cores started by a case; drain() ends every one still running. */
export class Cores {
  private readonly running = new Set<WorkerCore>();
  private count = 0;

  constructor(private readonly context: BindingCaseContext) {}

  /** Starts a core on the case's database, in namespace NS unless told otherwise. */
  async start(overrides: Partial<WorkerCoreConfig> = {}): Promise<WorkerCore> {
    this.count += 1;
    const core = await this.context.binding.createWorkerCore({
      databaseUrl: this.context.databaseUrl,
      workerId: `${this.context.bindingName}-case-worker-${this.count}`,
      namespaces: [NS],
      ...overrides,
    });
    this.running.add(core);
    return core;
  }

  /** Drains one core and forgets it. */
  async drain(core: WorkerCore, timeoutMs = 5_000): ReturnType<WorkerCore['drain']> {
    this.running.delete(core);
    return core.drain(timeoutMs);
  }

  /** Drains every core still running (errors ignored: the case's own outcome matters). */
  async drainAll(): Promise<void> {
    const cores = [...this.running];
    this.running.clear();
    await Promise.all(cores.map((core) => core.drain(2_000).catch(() => undefined)));
  }
}

/** Runs `body` with a Cores set that is drained afterwards, whatever happens. */
export async function withCores(context: BindingCaseContext, body: (cores: Cores) => Promise<void>): Promise<void> {
  const cores = new Cores(context);
  try {
    await body(cores);
  } finally {
    await cores.drainAll();
  }
}

/** Takes one step from `core`, failing if none comes within `timeoutMs`. */
export async function nextOne(core: WorkerCore, timeoutMs = 5_000): Promise<ClaimedStep> {
  const steps = await core.next(1, timeoutMs);
  assert.equal(steps.length, 1, `expected one step within ${timeoutMs} ms, got ${steps.length}`);
  return steps[0]!;
}

/** A success report of `step`. */
export function success(step: ClaimedStep, result: StepReport['result'] = { ok: true }): StepReport {
  return { stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success', result };
}

/**
 * A handler loop: takes up to `batch` steps at a time and reports what `handle` returns for each
 * (all reports of a batch at once), until `stop()` says so or `timeoutMs` passes (then it fails).
 */
export async function work(
  core: WorkerCore,
  handle: (step: ClaimedStep) => StepReport,
  stop: () => boolean,
  options: { batch?: number; timeoutMs?: number; onResult?: (step: ClaimedStep, result: ReportResult) => void } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  while (!stop()) {
    if (Date.now() >= deadline) assert.fail(`work loop did not finish within ${timeoutMs} ms`);
    const steps = await core.next(options.batch ?? 10, 100);
    await Promise.all(
      steps.map(async (step) => {
        const result = await core.report(handle(step));
        options.onResult?.(step, result);
      }),
    );
  }
}

/** How many times each step of the database entered `state` (from tasker.step_transitions). */
export async function transitionsTo(pool: pg.Pool, state: string): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ step_id: string; n: number }>(
    'SELECT step_id, count(*)::int AS n FROM tasker.step_transitions WHERE to_state = $1 GROUP BY step_id',
    [state],
  );
  return new Map(rows.map((row) => [row.step_id, row.n]));
}

/** Task counts by state. */
export async function taskStates(pool: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ state: string; n: number }>(
    'SELECT state, count(*)::int AS n FROM tasker.tasks GROUP BY state',
  );
  return Object.fromEntries(rows.map((row) => [row.state, row.n]));
}

/** A step's row, for checking attempt/deliveries/state. */
export async function stepRow(
  pool: pg.Pool,
  stepId: string,
): Promise<{ state: string; attempt: number; deliveries: number }> {
  const { rows } = await pool.query<{ state: string; attempt: number; deliveries: number }>(
    'SELECT state, attempt, deliveries FROM tasker.workflow_steps WHERE step_id = $1',
    [stepId],
  );
  assert.ok(rows[0], `step ${stepId} not found`);
  return rows[0];
}
