/**
 * The hot path reaches its rows by key whatever the planner's statistics say (migration 0016).
 *
 * The statistics are those of a deployment that was idle when they were taken: every task done.
 * The session's plans are made during that idle history, while the tables are small, as a
 * long-running worker's are. Then a burst arrives. With state tests the planner could turn into
 * index scans, and joins it could turn into scans of a whole primary key, claiming and reporting
 * a batch read entries for the whole backlog, so the work per step grew with the backlog. What is
 * counted here is index entries read (pg_stat_user_indexes), not time: the same work at a backlog
 * ten times larger must read about as many per step.
 *
 * The second case is a young database: a few hundred tasks of history, where a generic plan could
 * join steps to their tasks by reading the whole of tasks_pkey in order (migration 0027).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  claimSteps,
  createTask,
  extendLeases,
  registerTemplate,
  releaseLeases,
  reportAndClaim,
  type ClaimedStep,
  type StepReport,
  type TaskTemplate,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { single, template } from '../support/templates.ts';

const BATCH = 50;

let db: TestDatabase;
let session: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  // Autovacuum must not refresh the statistics while the test runs: they are meant to be stale.
  await holdAutovacuum(db.pool);
  session = new pg.Client({ connectionString: db.url });
  await session.connect();
});

afterAll(async () => {
  await session?.end();
  await db.drop();
});

/** Holds autovacuum off the tables the hot path writes: the statistics must stay as taken. */
async function holdAutovacuum(pool: pg.Pool): Promise<void> {
  for (const table of ['tasks', 'workflow_steps', 'workflow_step_edges', 'step_transitions', 'task_transitions']) {
    await pool.query(`ALTER TABLE tasker.${table} SET (autovacuum_enabled = false)`);
  }
}

/** A 4-step linear template, one -> two -> three -> four. */
function line(namespace: string): TaskTemplate {
  return template('line', [
    { name: 'one', handler: 'h' },
    { name: 'two', handler: 'h', dependencies: ['one'] },
    { name: 'three', handler: 'h', dependencies: ['two'] },
    { name: 'four', handler: 'h', dependencies: ['three'] },
  ], namespace);
}

function success(step: ClaimedStep): StepReport {
  return { stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success', result: 1 };
}

/** Index entries read so far per index of the tasker and pgmq schemas, this session's included. */
async function indexEntriesRead(client: pg.Client = session): Promise<Map<string, number>> {
  await client.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await client.query<{ name: string; read: string }>(
    "SELECT indexrelname AS name, idx_tup_read AS read FROM pg_stat_user_indexes WHERE schemaname IN ('tasker', 'pgmq')",
  );
  return new Map(rows.map((row) => [row.name, Number(row.read)]));
}

/** Creates `count` tasks of namespace.name in one statement. */
async function burst(namespace: string, name: string, count: number): Promise<void> {
  await session.query(
    "SELECT count(*) FROM (SELECT tasker.create_task($1, $2, NULL, '{}'::jsonb) FROM generate_series(1, $3)) x",
    [namespace, name, count],
  );
}

/**
 * Each path a worker takes: claim a batch, extend its leases, release a few, then report and
 * claim (the successors the reports enqueued, then more of their namespace's queue) until a call
 * claims nothing. Returns the steps reported.
 */
async function work(namespace: string, client: pg.Client = session, batch = BATCH): Promise<number> {
  const options = { namespace, batchSize: batch, leaseSeconds: 30, workerId: 'w' };
  let claimed = (await claimSteps(client, options)).claimed;
  await extendLeases(client, claimed, 30);
  await releaseLeases(client, claimed.slice(0, Math.min(5, batch - 1)), 'w');
  claimed = claimed.slice(Math.min(5, batch - 1));
  let reported = 0;
  while (claimed.length > 0) {
    const result = await reportAndClaim(client, claimed.map(success), { workerId: 'w', claimMax: batch, leaseSeconds: 30 });
    expect(result.results.every((r) => r.accepted)).toBe(true);
    reported += claimed.length;
    claimed = result.claim.claimed;
  }
  return reported;
}

/** What readsPerStep measured. */
interface Reads {
  perStep: number;
  /** The indexes read most, for the failure message. */
  top: string;
}

/** Index entries read per reported step over `rounds` batches of each namespace. */
async function readsPerStep(rounds: number): Promise<Reads> {
  const before = await indexEntriesRead();
  let steps = 0;
  for (let round = 0; round < rounds; round += 1) {
    steps += await work('stale_single');
    steps += await work('stale_line');
  }
  const after = await indexEntriesRead();
  const deltas = [...after].map(([name, read]) => [name, read - (before.get(name) ?? 0)] as const);
  const total = deltas.reduce((sum, [, read]) => sum + read, 0);
  const top = deltas
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([name, read]) => `${name} ${(read / steps).toFixed(1)}`)
    .join(', ');
  return { perStep: total / steps, top };
}

describe('the hot path under statistics taken while the system was idle', () => {
  it('reads about as many index entries per step at a backlog of 3,000 tasks as at 300', async () => {
    await registerTemplate(db.pool, single('stale_single'));
    await registerTemplate(db.pool, line('stale_line'));
    // The idle history: some tasks, all complete, then the statistics.
    for (let i = 0; i < 20; i += 1) {
      await createTask(session, { namespace: 'stale_single', name: 'single' });
      await createTask(session, { namespace: 'stale_line', name: 'line' });
    }
    while ((await work('stale_single')) + (await work('stale_line')) > 0) {
      // Drains both namespaces; released steps come back once their messages are visible again.
    }
    // What autovacuum leaves after an idle spell: emptied queue pages vacuumed away, statistics
    // that say every task is complete.
    await session.query('VACUUM ANALYZE');

    await burst('stale_single', 'single', 300);
    await burst('stale_line', 'line', 150);
    const small = await readsPerStep(2);

    await burst('stale_single', 'single', 3_000);
    await burst('stale_line', 'line', 1_500);
    const large = await readsPerStep(2);

    console.log(`index entries read per step: ${small.perStep.toFixed(1)} at the small backlog, ${large.perStep.toFixed(1)} at the large one`);
    expect(large.perStep, `per step at the large backlog: ${large.top}; at the small one: ${small.top}`)
      .toBeLessThan(small.perStep * 1.5);
  });
});

describe('the hot path in a young database', () => {
  let young: TestDatabase;
  let worker: pg.Client;

  beforeAll(async () => {
    young = await createTestDatabase();
  });

  afterAll(async () => {
    await worker?.end();
    await young.drop();
  });

  it('reads tasks_pkey a few times per step, not once per task, while a young history grows', async () => {
    // Between two runs of autovacuum's ANALYZE (held off here), as in a new deployment.
    await holdAutovacuum(young.pool);
    await registerTemplate(young.pool, single('young_single'));
    await registerTemplate(young.pool, line('young_line'));
    // A history of 100 finished tasks, and the statistics taken of it.
    await young.pool.query("SELECT count(*) FROM (SELECT tasker.create_task('young_single', 'single', NULL, '{}'::jsonb) FROM generate_series(1, 50)) x");
    await young.pool.query("SELECT count(*) FROM (SELECT tasker.create_task('young_line', 'line', NULL, '{}'::jsonb) FROM generate_series(1, 50)) x");
    worker = new pg.Client({ connectionString: young.url });
    await worker.connect();
    while ((await work('young_single', worker)) + (await work('young_line', worker)) > 0) {
      // Drains both namespaces.
    }
    await young.pool.query('ANALYZE');

    // A worker's new session makes its generic plans against that history, taking steps one at
    // a time; then 300 more tasks pass through it.
    await worker.end();
    worker = new pg.Client({ connectionString: young.url });
    await worker.connect();
    for (let i = 0; i < 3; i += 1) {
      await createTask(worker, { namespace: 'young_line', name: 'line' });
      await work('young_line', worker, 1);
    }
    await young.pool.query("SELECT count(*) FROM (SELECT tasker.create_task('young_single', 'single', NULL, '{}'::jsonb) FROM generate_series(1, 300)) x");
    while ((await work('young_single', worker)) > 0) {
      // Drains the burst.
    }

    const before = await indexEntriesRead(worker);
    let steps = 0;
    for (let i = 0; i < 10; i += 1) {
      await createTask(worker, { namespace: 'young_line', name: 'line' });
      await createTask(worker, { namespace: 'young_single', name: 'single' });
      steps += await work('young_line', worker, 1);
      steps += await work('young_single', worker, 1);
    }
    const after = await indexEntriesRead(worker);
    expect(steps).toBe(50);
    const perStep = ((after.get('tasks_pkey') ?? 0) - (before.get('tasks_pkey') ?? 0)) / steps;
    console.log(`tasks_pkey entries read per step, history of ${100 + 3 + 300 + 20} tasks: ${perStep.toFixed(1)}`);
    expect(perStep, 'a step read about as many of tasks_pkey\'s entries as there are tasks').toBeLessThan(20);
  });
});
