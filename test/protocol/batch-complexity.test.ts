/**
 * No statement of the batch hot path visits more rows than a small multiple of the batch
 * (migrations 0018 and 0019).
 *
 * The planner cannot count the rows of an array parameter and estimates one, so a join of two sets
 * built from a batch's arrays runs as a nested loop over both: a batch of n visits n² rows. Such
 * joins once took 578 of the 834 ms of a report of 1,000 steps and 424 of the 480 ms of a
 * heartbeat of 1,000 leases. What is counted here is rows, not time: auto_explain (log_level
 * notice, so the plans come back to this session) gives every nested statement's plan with each
 * node's actual rows, loops and rows removed by filters, and no node may visit more than
 * ROWS_PER_STEP × the batch.
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
  reportSteps,
  type ClaimedStep,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { single, template } from '../support/templates.ts';

const BATCH = 300;
/**
 * Generous for any linear plan, and far below a nested loop over the batch (300 per step). A
 * probe of the batch's tasks by key returns every version of a task its index still holds: one
 * per update that was not HOT and not yet pruned, which depends on page space and on when pruning
 * ran. Usually 2 per task; a fresh-clone run under load saw 4, at the old bound of 4.
 */
const ROWS_PER_STEP = 8;

interface PlanNode {
  'Node Type': string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Join Filter'?: number;
  Plans?: PlanNode[];
}

interface ExplainedStatement {
  text: string;
  plan: PlanNode;
}

let db: TestDatabase;
let session: pg.Client;
const explained: ExplainedStatement[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  session = new pg.Client({ connectionString: db.url });
  await session.connect();
  session.on('notice', (notice) => {
    const text = notice.message ?? '';
    const at = text.indexOf('{');
    if (!text.includes('plan:') || at < 0) return;
    const parsed = JSON.parse(text.slice(at)) as { 'Query Text': string; Plan: PlanNode };
    explained.push({ text: parsed['Query Text'], plan: parsed.Plan });
  });
  await registerTemplate(db.pool, single('complexity_ns'));
  await registerTemplate(
    db.pool,
    template('pair', [{ name: 'first', handler: 'h' }, { name: 'second', handler: 'h', dependencies: ['first'] }], 'complexity_pair_ns'),
  );
});

afterAll(async () => {
  await session?.end();
  await db.drop();
});

/** Runs `work` with every statement's plan explained; returns the plans of its nested statements. */
async function explain(work: () => Promise<unknown>): Promise<ExplainedStatement[]> {
  explained.length = 0;
  await session.query("LOAD 'auto_explain'");
  await session.query(
    "SELECT set_config('auto_explain.log_min_duration', '0', false), set_config('auto_explain.log_analyze', 'on', false), " +
      "set_config('auto_explain.log_timing', 'off', false), set_config('auto_explain.log_nested_statements', 'on', false), " +
      "set_config('auto_explain.log_format', 'json', false), set_config('auto_explain.log_level', 'notice', false)",
  );
  try {
    await work();
  } finally {
    await session.query("SELECT set_config('auto_explain.log_min_duration', '-1', false)");
  }
  // The notices of the last statement arrive before its result; give the event loop one turn.
  await new Promise((resolve) => setImmediate(resolve));
  return [...explained];
}

/** Rows a node visited: those it returned over all its loops, plus those its filters removed. */
function visited(node: PlanNode): number {
  const loops = node['Actual Loops'] ?? 1;
  return (node['Actual Rows'] ?? 0) * loops + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Join Filter'] ?? 0);
}

/** The node that visited the most rows in any of `statements`, with its statement's first line. */
function busiest(statements: ExplainedStatement[]): { rows: number; node: string; statement: string } {
  let best = { rows: 0, node: '', statement: '' };
  const walk = (node: PlanNode, statement: string): void => {
    const rows = visited(node);
    if (rows > best.rows) best = { rows, node: node['Node Type'], statement };
    for (const child of node.Plans ?? []) walk(child, statement);
  };
  for (const { text, plan } of statements) {
    // PGMQ's own statements are planned from its queue table's statistics on every call; they are
    // PGMQ's as published and not what this test holds (bench/results/latency.md, large batches).
    if (/pgmq\.q_/.test(text)) continue;
    walk(plan, text.trim().split('\n')[0] ?? '');
  }
  return best;
}

async function burst(namespace: string, name: string, count: number): Promise<void> {
  await db.pool.query(
    "SELECT count(*) FROM (SELECT tasker.create_task($1, $2, NULL, '{}'::jsonb) FROM generate_series(1, $3)) x",
    [namespace, name, count],
  );
}

async function claimBatch(namespace = 'complexity_ns'): Promise<ClaimedStep[]> {
  const { claimed } = await claimSteps(session, { namespace, batchSize: BATCH, leaseSeconds: 30, workerId: 'w' });
  expect(claimed).toHaveLength(BATCH);
  return claimed;
}

const limit = ROWS_PER_STEP * BATCH;

describe(`a batch of ${BATCH} visits fewer than ${limit} rows in any plan node`, () => {
  it('claiming, extending the leases, then reporting them', async () => {
    await burst('complexity_ns', 'single', BATCH);
    let claimed: ClaimedStep[] = [];
    const claim = busiest(await explain(async () => (claimed = await claimBatch())));
    const extend = busiest(await explain(() => extendLeases(session, claimed, 30)));
    const report = busiest(
      await explain(() =>
        reportSteps(
          session,
          claimed.map((step) => ({ stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success', result: 1 })),
        ),
      ),
    );
    expect(claim.rows, JSON.stringify(claim)).toBeLessThan(limit);
    expect(extend.rows, JSON.stringify(extend)).toBeLessThan(limit);
    expect(report.rows, JSON.stringify(report)).toBeLessThan(limit);
  });

  it('releasing prefetched leases', async () => {
    await burst('complexity_ns', 'single', BATCH);
    const claimed = await claimBatch();
    const release = busiest(await explain(() => releaseLeases(session, claimed, 'w')));
    expect(release.rows, JSON.stringify(release)).toBeLessThan(limit);
  });

  it('reporting and claiming the successors in the same call', async () => {
    await burst('complexity_pair_ns', 'pair', BATCH);
    const claimed = await claimBatch('complexity_pair_ns');
    let result: Awaited<ReturnType<typeof reportAndClaim>> | undefined;
    const both = busiest(
      await explain(async () => {
        result = await reportAndClaim(
          session,
          claimed.map((step) => ({ stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success' })),
          { workerId: 'w', claimMax: BATCH, leaseSeconds: 30 },
        );
      }),
    );
    expect(result?.claim.claimed).toHaveLength(BATCH);
    expect(both.rows, JSON.stringify(both)).toBeLessThan(limit);
  });

  it('reporting failures, retryable and permanent (the per-report path)', async () => {
    await burst('complexity_ns', 'single', BATCH);
    const claimed = await claimBatch();
    const failures = busiest(
      await explain(() =>
        reportSteps(
          session,
          claimed.map((step, i) => ({
            stepId: step.stepId,
            attempt: step.attempt,
            delivery: step.delivery,
            outcome: i % 2 === 0 ? 'retryable_failure' : 'permanent_failure',
            error: { message: 'no' },
          })),
        ),
      ),
    );
    expect(failures.rows, JSON.stringify(failures)).toBeLessThan(limit);
  });

  it('sees the plans it counts (a statement that visits every row of the batch)', async () => {
    // Guards the counting itself: if no plans came back, every check above would pass vacuously.
    await createTask(db.pool, { namespace: 'complexity_ns', name: 'single' });
    const plans = await explain(() => claimSteps(session, { namespace: 'complexity_ns', batchSize: 1, leaseSeconds: 30, workerId: 'w' }));
    expect(plans.some((statement) => /claim_steps/.test(statement.text))).toBe(true);
    expect(plans.length).toBeGreaterThan(3);
  });
});
