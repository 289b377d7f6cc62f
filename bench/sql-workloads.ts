/**
 * The SQL workloads the SQL benchmarks share (sql-profile.ts, migration-ab.ts): the templates they
 * register, single-step tasks created in bulk and claimed and reported in batches, the 4-step
 * linear workflow run one call at a time (percentiles: stats.ts).
 */
import { createDatabase, dropDatabase, runMigrations, withDatabaseName } from '@tasker/sdk';
import pg from 'pg';

/** A claimed step: what a report or a lease operation names it by. */
export interface Lease {
  step_id: string;
  attempt: number;
  delivery: number;
}

/** The client-side time (ms) of each call of the 4-step workflow, and of each whole workflow. */
export interface WorkflowTimes {
  create_task: number[];
  claim_steps: number[];
  report_and_claim: number[];
  workflow: number[];
}

/** Registers sql_profile/single: one step `only`. */
export async function registerSingleStepTemplate(client: pg.Client): Promise<void> {
  await client.query('SELECT tasker.register_template($1::jsonb)', [
    JSON.stringify({ namespace: 'sql_profile', name: 'single', version: '1.0.0', steps: [{ name: 'only', handler: 'h' }] }),
  ]);
}

/** Registers sql_profile/linear4: first → second → third → fourth. */
export async function registerLinearTemplate(client: pg.Client): Promise<void> {
  await client.query('SELECT tasker.register_template($1::jsonb)', [
    JSON.stringify({
      namespace: 'sql_profile',
      name: 'linear4',
      version: '1.0.0',
      steps: [
        { name: 'first', handler: 'h' },
        { name: 'second', handler: 'h', dependencies: ['first'] },
        { name: 'third', handler: 'h', dependencies: ['second'] },
        { name: 'fourth', handler: 'h', dependencies: ['third'] },
      ],
    }),
  ]);
}

/**
 * Registers sql_profile/chain<steps>: `steps` steps in a line (s1 → s2 → …); returns the
 * template's name. A report of a batch of such steps enqueues a successor per step.
 */
export async function registerChainTemplate(client: pg.Client, steps: number): Promise<string> {
  const name = `chain${steps}`;
  await client.query('SELECT tasker.register_template($1::jsonb)', [
    JSON.stringify({
      namespace: 'sql_profile',
      name,
      version: '1.0.0',
      steps: Array.from({ length: steps }, (_, i) => ({ name: `s${i + 1}`, handler: 'h', ...(i > 0 ? { dependencies: [`s${i}`] } : {}) })),
    }),
  ]);
  return name;
}

/** Creates `count` tasks of sql_profile/`template` (default: the single-step one) in one statement. */
export async function createTasksInBulk(client: pg.Client, count: number, template = 'single'): Promise<void> {
  await client.query("SELECT count(*) FROM (SELECT tasker.create_task('sql_profile', $2, NULL, '{}'::jsonb) FROM generate_series(1, $1)) x", [count, template]);
}

/** Claims up to `count` steps of sql_profile with one claim_steps; the leases it took. */
export async function claimSingleSteps(client: pg.Client, count: number): Promise<Lease[]> {
  const { rows } = await client.query<Lease>(
    `SELECT step_id, attempt, delivery FROM tasker.claim_steps('sql_profile', ${count}, 30, 'w') WHERE outcome = 'claimed'`,
  );
  return rows;
}

/** Reports every lease a success with one report_steps. */
export async function reportSuccesses(client: pg.Client, leases: readonly Lease[]): Promise<void> {
  await client.query("SELECT * FROM tasker.report_steps($1::jsonb, 'w')", [JSON.stringify(leases.map((row) => ({ ...row, outcome: 'success', result: 1 })))]);
}

/** The parallel arrays extend_leases and release_leases take. */
export function leaseArrays(leases: readonly Lease[]): [string[], number[], number[]] {
  return [leases.map((row) => row.step_id), leases.map((row) => row.attempt), leases.map((row) => row.delivery)];
}

/** One heartbeat: extend_leases of every lease, for 30 s. */
export async function extendLeases(client: pg.Client, leases: readonly Lease[]): Promise<void> {
  await client.query('SELECT * FROM tasker.extend_leases($1::uuid[], $2::int[], $3::int[], 30)', leaseArrays(leases));
}

// Prepared, as the bindings' statements are.
const CREATE = { name: 'create', text: "SELECT * FROM tasker.create_task('sql_profile', 'linear4', NULL, '{}'::jsonb)" };
const CLAIM = { name: 'claim', text: "SELECT step_id, attempt, delivery FROM tasker.claim_steps('sql_profile', 1, 30, 'w')" };
const REPORT_AND_CLAIM = {
  name: 'report_and_claim',
  text: "SELECT kind, claim ->> 'step_id' AS step_id, (claim ->> 'attempt')::int AS attempt, (claim ->> 'delivery')::int AS delivery FROM tasker.report_and_claim($1::jsonb, 'w', 1, 30)",
};

export function emptyWorkflowTimes(): WorkflowTimes {
  return { create_task: [], claim_steps: [], report_and_claim: [], workflow: [] };
}

/**
 * Runs one sql_profile/linear4 workflow from `client`, one call at a time: create_task,
 * claim_steps for the first step, then report_and_claim for each step (which claims the next);
 * adds each call's time and the workflow's to `times`.
 */
export async function runLinearWorkflow(client: pg.Client, times: WorkflowTimes): Promise<void> {
  const start = performance.now();
  let t0 = start;
  await client.query(CREATE);
  times.create_task.push(performance.now() - t0);
  t0 = performance.now();
  let step: Lease | undefined = (await client.query<Lease>(CLAIM)).rows[0];
  times.claim_steps.push(performance.now() - t0);
  while (step !== undefined) {
    const report = [{ step_id: step.step_id, attempt: step.attempt, delivery: step.delivery, outcome: 'success', result: 1 }];
    t0 = performance.now();
    const rows = (await client.query<Lease & { kind: string }>({ ...REPORT_AND_CLAIM, values: [JSON.stringify(report)] })).rows;
    times.report_and_claim.push(performance.now() - t0);
    step = rows.find((row) => row.kind === 'claimed');
  }
  times.workflow.push(performance.now() - start);
}

/**
 * Runs `work` with a session on a fresh database `name` on the server at `serverUrl`, with every
 * migration applied; closes the session and drops the database afterwards, whatever happens.
 */
export async function withMigratedDatabase<T>(serverUrl: string, name: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  await createDatabase(serverUrl, name);
  const url = withDatabaseName(serverUrl, name);
  try {
    await runMigrations({ databaseUrl: url, log: () => {} });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => {});
    }
  } finally {
    await dropDatabase(serverUrl, name).catch(() => {});
  }
}
