/**
 * The leak check's work: fresh steps, and claim + report cycles through a worker core.
 *
 * Every cycle takes a step never seen before (a new step id, a new message) and commits a success
 * for it, so anything a core keeps per step and forgets to drop grows with the count. (Reporting
 * retryable failures with retryAfterMs 0 on a few steps, which come straight back, costs the
 * database about as much per cycle, measured ~1.6 ms against ~0.7 ms per success plus up to
 * ~0.9 ms to create its step, but recycles the same few step ids, hiding exactly that kind of
 * leak.) Steps come in tasks of 100 independent steps: measured, create_task costs ~3 ms for a
 * one-step task but ~0.5–0.9 ms per step in a 100-step one, and two connections creating at once
 * finish in ~0.55 of the time of one.
 */
import pg from 'pg';
import type { WorkerCore } from '@tasker/sdk/binding';

/** The namespace the leak check works in (its database is its own). */
export const LEAK_NAMESPACE = 'leak_ns';
/** Independent root steps per task. */
export const STEPS_PER_TASK = 100;
/** A claim that brings nothing for this long means the run is stuck. */
const NEXT_TIMEOUT_MS = 10_000;
/** Tasks per create statement, and statements running at once. */
const TASKS_PER_STATEMENT = 10;
const CREATORS = 2;

/** Registers the template and creates at least `steps` claimable steps; resolves with the count created. */
export async function createSteps(databaseUrl: string, steps: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: CREATORS });
  try {
    const template = {
      namespace: LEAK_NAMESPACE,
      name: 'leak_fanout',
      version: '1.0.0',
      steps: Array.from({ length: STEPS_PER_TASK }, (_, i) => ({ name: `s${String(i).padStart(3, '0')}`, handler: 'leak.noop' })),
    };
    await pool.query('SELECT * FROM tasker.register_template($1::jsonb)', [JSON.stringify(template)]);
    const tasks = Math.ceil(steps / STEPS_PER_TASK);
    let issued = 0;
    await Promise.all(
      Array.from({ length: CREATORS }, async () => {
        while (issued < tasks) {
          const count = Math.min(TASKS_PER_STATEMENT, tasks - issued);
          issued += count;
          await pool.query(
            "SELECT count(*) FROM (SELECT tasker.create_task($1, 'leak_fanout', NULL, '{}'::jsonb) FROM generate_series(1, $2)) created",
            [LEAK_NAMESPACE, count],
          );
        }
      }),
    );
    // Fresh statistics, so the claim and report plans see a big queue and step table as they are.
    await pool.query('ANALYZE');
    return tasks * STEPS_PER_TASK;
  } finally {
    await pool.end();
  }
}

/**
 * Runs `cycles` claim + report cycles: takes up to `batch` steps with next(), reports a success
 * for each (all of a batch at once, so the core may batch them) and waits for every answer.
 * Throws if a report is not accepted or no step comes within 10 s.
 */
export async function runCycles(core: WorkerCore, cycles: number, batch: number): Promise<void> {
  let done = 0;
  while (done < cycles) {
    const steps = await core.next(Math.min(batch, cycles - done), NEXT_TIMEOUT_MS);
    if (steps.length === 0) throw new Error(`no step came within ${NEXT_TIMEOUT_MS} ms after ${done} of ${cycles} cycles`);
    const results = await Promise.all(
      steps.map((step) =>
        core.report({ stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success', result: { ok: true } }),
      ),
    );
    const refused = results.find((result) => !result.accepted);
    if (refused !== undefined) throw new Error(`report of step ${refused.stepId} was not accepted: ${refused.reason ?? 'no reason given'}`);
    done += steps.length;
  }
}

/** Steps of the namespace that are complete, counted in SQL (the cycles must have been real). */
export async function completedSteps(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM tasker.workflow_steps WHERE state = 'complete'");
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}
