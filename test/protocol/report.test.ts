import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidProtocolArgumentError,
  claimSteps,
  createTask,
  getTaskStatus,
  registerTemplate,
  reportStep,
  reportSteps,
  type ClaimedStep,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { queueMessages, sleep } from '../support/queue.ts';
import { diamond, single, template } from '../support/templates.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

async function claimOne(namespace: string, leaseSeconds = 30, workerId?: string): Promise<ClaimedStep> {
  const { claimed } = await claimSteps(db.pool, { namespace, batchSize: 1, leaseSeconds, ...(workerId ? { workerId } : {}) });
  const step = claimed[0];
  if (step === undefined) throw new Error(`nothing to claim in ${namespace}`);
  return step;
}

async function claimAll(namespace: string, leaseSeconds = 30): Promise<ClaimedStep[]> {
  return (await claimSteps(db.pool, { namespace, batchSize: 100, leaseSeconds })).claimed;
}

function succeed(step: ClaimedStep, result: unknown = { ok: step.stepName }) {
  return reportStep(db.pool, {
    stepId: step.stepId,
    attempt: step.attempt,
    delivery: step.delivery,
    outcome: 'success',
    result: result as never,
  });
}

async function transitionsOf(stepId: string): Promise<Array<{ from_state: string | null; to_state: string; attempt: number; delivery: number }>> {
  const { rows } = await db.pool.query(
    'SELECT from_state, to_state, attempt, delivery FROM tasker.step_transitions WHERE step_id = $1 ORDER BY transition_id',
    [stepId],
  );
  return rows;
}

describe('report_step: success', () => {
  it('runs a diamond: the join runs once, after both parents, with both results', async () => {
    await registerTemplate(db.pool, diamond('dia_ns'));
    const task = await createTask(db.pool, { namespace: 'dia_ns', name: 'diamond' });

    const a = await claimOne('dia_ns');
    expect(await claimAll('dia_ns')).toEqual([]);
    expect((await succeed(a)).enqueued).toBe(2);

    const parents = await claimAll('dia_ns');
    expect(parents.map((p) => p.stepName).sort()).toEqual(['b', 'c']);
    expect(parents[0]?.dependencyResults).toEqual({ a: { ok: 'a' } });

    const first = await succeed(parents[0]!);
    expect(first.enqueued).toBe(0);
    expect(await claimAll('dia_ns')).toEqual([]);
    const second = await succeed(parents[1]!);
    expect(second.enqueued).toBe(1);

    const d = await claimOne('dia_ns');
    expect(d.stepName).toBe('d');
    expect(d.dependencyResults).toEqual({ b: { ok: 'b' }, c: { ok: 'c' } });
    const last = await succeed(d);
    expect(last).toMatchObject({ accepted: true, stepState: 'complete', taskState: 'complete' });

    const status = await getTaskStatus(db.pool, task.taskId);
    expect(status?.state).toBe('complete');
    expect(status?.finished_at).not.toBeNull();
    expect(await queueMessages(db.pool, 'dia_ns')).toEqual([]);
  });

  it('enqueues the join exactly once when both parents report at the same moment', async () => {
    await registerTemplate(db.pool, diamond('join_ns'));
    const rounds = 15;
    for (let round = 0; round < rounds; round += 1) {
      await createTask(db.pool, { namespace: 'join_ns', name: 'diamond' });
    }
    for (const a of await claimAll('join_ns')) await succeed(a);
    const parents = await claimAll('join_ns');
    expect(parents).toHaveLength(rounds * 2);

    // Each parent reports on its own connection, all at once.
    const clients = await Promise.all(
      parents.map(async () => {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        return client;
      }),
    );
    try {
      await Promise.all(
        parents.map((step, i) =>
          reportStep(clients[i]!, { stepId: step.stepId, attempt: 1, delivery: 1, outcome: 'success', result: i }),
        ),
      );
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }

    const joins = await claimAll('join_ns');
    expect(joins).toHaveLength(rounds);
    expect(new Set(joins.map((j) => j.taskId)).size).toBe(rounds);
    for (const join of joins) {
      expect(Object.keys(join.dependencyResults).sort()).toEqual(['b', 'c']);
      const enqueues = (await transitionsOf(join.stepId)).filter((t) => t.to_state === 'enqueued');
      expect(enqueues).toHaveLength(1);
    }
  });

  it('takes many reports in one round trip', async () => {
    await registerTemplate(db.pool, single('batch_ns'));
    for (let i = 0; i < 5; i += 1) await createTask(db.pool, { namespace: 'batch_ns', name: 'single' });
    const steps = await claimAll('batch_ns');
    const results = await reportSteps(
      db.pool,
      steps.map((s, i) => ({ stepId: s.stepId, attempt: s.attempt, delivery: s.delivery, outcome: 'success' as const, result: i })),
      'batcher',
    );
    expect(results.map((r) => r.stepId)).toEqual(steps.map((s) => s.stepId));
    expect(results.every((r) => r.accepted && r.taskState === 'complete')).toBe(true);
    const { rows } = await db.pool.query(
      "SELECT DISTINCT actor FROM tasker.step_transitions WHERE step_id = ANY($1::uuid[]) AND to_state = 'complete'",
      [steps.map((s) => s.stepId)],
    );
    expect(rows).toEqual([{ actor: 'batcher' }]);
    await expect(reportSteps(db.pool, [{ stepId: 'nope', attempt: 1, delivery: 1, outcome: 'success' }])).rejects.toThrow(
      InvalidProtocolArgumentError,
    );
  });

  it('refuses a batch with a malformed report whole, naming the first one', async () => {
    await registerTemplate(db.pool, single('malformed_ns'));
    for (let i = 0; i < 3; i += 1) await createTask(db.pool, { namespace: 'malformed_ns', name: 'single' });
    const [a, b, c] = await claimAll('malformed_ns');
    const reports = [
      { step_id: a!.stepId, attempt: a!.attempt, delivery: a!.delivery, outcome: 'success' },
      { step_id: b!.stepId, attempt: b!.attempt, delivery: b!.delivery, outcome: 'success' },
      { step_id: c!.stepId, attempt: 'one', delivery: c!.delivery, outcome: 'success' },
      { step_id: 'not-a-uuid', attempt: 1, delivery: 1, outcome: 'success' },
    ];
    await expect(db.pool.query('SELECT * FROM tasker.report_steps($1::jsonb)', [JSON.stringify(reports)])).rejects.toMatchObject({
      code: 'TK007',
      message: expect.stringMatching(/^invalid report #3: /),
      detail: expect.stringMatching(/"field" ?: ?"reports\[2\]"/),
    });
    // Nothing of the batch was applied: the valid reports' steps are still running.
    const { rows } = await db.pool.query<{ state: string }>('SELECT state FROM tasker.workflow_steps WHERE step_id = ANY($1::uuid[])', [
      [a!.stepId, b!.stepId],
    ]);
    expect(rows.map((r) => r.state)).toEqual(['in_progress', 'in_progress']);
  });

  it('applies a mixed batch exactly as one report at a time would', async () => {
    await registerTemplate(db.pool, single('mixed_ns', { retry: { max_attempts: 3, backoff_ms: 60000 } }));
    await registerTemplate(
      db.pool,
      template('chain', [{ name: 'first', handler: 'h.first' }, { name: 'second', handler: 'h.second', dependencies: ['first'] }], 'mixed_ns'),
    );
    for (let i = 0; i < 4; i += 1) await createTask(db.pool, { namespace: 'mixed_ns', name: 'single' });
    const chain = await createTask(db.pool, { namespace: 'mixed_ns', name: 'chain' });
    const steps = await claimAll('mixed_ns');
    expect(steps).toHaveLength(5);
    const [ok, retry, fail, stale, first] = [...steps.filter((s) => s.taskId !== chain.taskId), steps.find((s) => s.taskId === chain.taskId)!];

    const results = await reportSteps(db.pool, [
      { stepId: ok!.stepId, attempt: 1, delivery: 1, outcome: 'success', result: { n: 1 } },
      { stepId: retry!.stepId, attempt: 1, delivery: 1, outcome: 'retryable_failure', error: { message: 'again' } },
      { stepId: fail!.stepId, attempt: 1, delivery: 1, outcome: 'permanent_failure', error: { message: 'no' } },
      { stepId: stale!.stepId, attempt: 1, delivery: 9, outcome: 'success' },
      { stepId: first!.stepId, attempt: 1, delivery: 1, outcome: 'success', result: 'first!' },
      { stepId: ok!.stepId, attempt: 1, delivery: 1, outcome: 'success', result: { n: 2 } },
    ]);
    expect(results.map((r) => [r.accepted, r.stepState, r.taskState, r.enqueued])).toEqual([
      [true, 'complete', 'complete', 0],
      [true, 'waiting_for_retry', 'in_progress', 0],
      [true, 'error', 'error', 0],
      [false, 'in_progress', 'in_progress', 0],
      [true, 'complete', 'in_progress', 1],
      [false, 'complete', 'complete', 0], // the same lease again: the step is already complete
    ]);
    expect(results[3]?.reason).toMatch(/lease lost/);
    expect((await getTaskStatus(db.pool, ok!.taskId))?.steps[0]?.results).toEqual({ n: 1 });
    const second = await claimOne('mixed_ns');
    expect(second).toMatchObject({ stepName: 'second', dependencyResults: { first: 'first!' } });
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM tasker.step_transitions WHERE step_id = $1 AND to_state = 'complete'",
      [ok!.stepId],
    );
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('announces the finished task on tasker_task_state', async () => {
    await registerTemplate(db.pool, single('done_ns'));
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    try {
      await listener.query('LISTEN tasker_task_state');
      const task = await createTask(db.pool, { namespace: 'done_ns', name: 'single' });
      const received = new Promise<pg.Notification>((resolve) => listener.once('notification', resolve));
      await succeed(await claimOne('done_ns'));
      const note = await received;
      expect(JSON.parse(note.payload ?? '{}')).toEqual({ task_id: task.taskId, state: 'complete' });
    } finally {
      await listener.end();
    }
  });
});

describe('report_step: failures', () => {
  it('brings a retryable failure back after its backoff, not before', async () => {
    await registerTemplate(
      db.pool,
      single('retry_ns', { retry: { max_attempts: 3, backoff_ms: 1500, max_backoff_ms: 1500 } }),
    );
    await createTask(db.pool, { namespace: 'retry_ns', name: 'single' });
    const step = await claimOne('retry_ns');
    const failedAt = Date.now();
    const report = await reportStep(db.pool, {
      stepId: step.stepId,
      attempt: 1,
      delivery: 1,
      outcome: 'retryable_failure',
      error: { kind: 'Timeout', message: 'upstream slow' },
    });
    expect(report).toMatchObject({ accepted: true, stepState: 'waiting_for_retry', taskState: 'in_progress' });
    const retryAt = report.nextRetryAt!.getTime();
    // Capped by max_backoff_ms, so jitter cannot push it past 1.5 s.
    expect(retryAt - failedAt).toBeGreaterThanOrEqual(1400);
    expect(retryAt - failedAt).toBeLessThanOrEqual(1700);

    while (Date.now() < retryAt - 250) {
      expect(await claimAll('retry_ns')).toEqual([]);
      await sleep(200);
    }
    while (Date.now() <= retryAt) await sleep(20);
    await sleep(50);
    const again = await claimOne('retry_ns');
    expect(Date.now()).toBeGreaterThanOrEqual(retryAt);
    expect(again).toMatchObject({ stepId: step.stepId, attempt: 2, delivery: 1 });

    const status = await getTaskStatus(db.pool, step.taskId);
    expect(status?.steps[0]?.last_error).toEqual({ kind: 'Timeout', message: 'upstream slow' });
  });

  it('computes exponential backoff with bounded jitter and honours retry_after_ms', async () => {
    const { rows } = await db.pool.query<{ d1: string; d3: string; capped: string }>(
      'SELECT tasker.retry_delay_ms(1, 100, 100000) AS d1, tasker.retry_delay_ms(3, 100, 100000) AS d3, tasker.retry_delay_ms(40, 100, 5000) AS capped',
    );
    const { d1, d3, capped } = rows[0]!;
    expect(Number(d1)).toBeGreaterThanOrEqual(100);
    expect(Number(d1)).toBeLessThanOrEqual(125);
    expect(Number(d3)).toBeGreaterThanOrEqual(400);
    expect(Number(d3)).toBeLessThanOrEqual(500);
    expect(Number(capped)).toBe(5000);

    await registerTemplate(db.pool, single('after_ns', { retry: { backoff_ms: 60000 } }));
    await createTask(db.pool, { namespace: 'after_ns', name: 'single' });
    const step = await claimOne('after_ns');
    const report = await reportStep(db.pool, {
      stepId: step.stepId,
      attempt: 1,
      delivery: 1,
      outcome: 'retryable_failure',
      retryAfterMs: 0,
    });
    expect(report.nextRetryAt!.getTime()).toBeLessThanOrEqual(Date.now() + 50);
    expect((await claimOne('after_ns')).attempt).toBe(2);
  });

  it('fails the step and the task when attempts are exhausted', async () => {
    await registerTemplate(db.pool, single('exhaust_ns', { retry: { max_attempts: 2, backoff_ms: 0 } }));
    const task = await createTask(db.pool, { namespace: 'exhaust_ns', name: 'single' });
    const one = await claimOne('exhaust_ns');
    await reportStep(db.pool, { stepId: one.stepId, attempt: 1, delivery: 1, outcome: 'retryable_failure', error: { message: 'x' } });
    const two = await claimOne('exhaust_ns');
    const final = await reportStep(db.pool, {
      stepId: two.stepId,
      attempt: 2,
      delivery: 1,
      outcome: 'retryable_failure',
      error: { message: 'y' },
    });
    expect(final).toMatchObject({ accepted: true, stepState: 'error', taskState: 'error', reason: 'attempts exhausted (2 of 2)' });
    const status = await getTaskStatus(db.pool, task.taskId);
    expect(status?.steps[0]?.last_error).toEqual({ message: 'y', final_reason: 'attempts exhausted (2 of 2)' });
  });

  it('does not retry a step marked not retryable', async () => {
    await registerTemplate(db.pool, single('noretry_ns', { retry: { retryable: false } }));
    await createTask(db.pool, { namespace: 'noretry_ns', name: 'single' });
    const step = await claimOne('noretry_ns');
    const report = await reportStep(db.pool, { stepId: step.stepId, attempt: 1, delivery: 1, outcome: 'retryable_failure' });
    expect(report).toMatchObject({ stepState: 'error', taskState: 'error', reason: 'step is not retryable' });
  });

  it('stops the task on a permanent failure and leaves no step runnable', async () => {
    await registerTemplate(
      db.pool,
      template(
        'wide',
        [
          { name: 'root', handler: 'h.root' },
          { name: 'fails', handler: 'h.fails', dependencies: ['root'] },
          { name: 'slow', handler: 'h.slow', dependencies: ['root'] },
          { name: 'queued', handler: 'h.queued', dependencies: ['root'] },
          { name: 'after', handler: 'h.after', dependencies: ['fails', 'slow', 'queued'] },
        ],
        'perm_ns',
      ),
    );
    const task = await createTask(db.pool, { namespace: 'perm_ns', name: 'wide' });
    await succeed(await claimOne('perm_ns'));
    // Messages go out in step order, so a batch of two takes "fails" and "slow"; "queued" waits.
    const { claimed } = await claimSteps(db.pool, { namespace: 'perm_ns', batchSize: 2, leaseSeconds: 30 });
    expect(claimed.map((s) => s.stepName)).toEqual(['fails', 'slow']);
    const [fails, running] = claimed as [ClaimedStep, ClaimedStep];

    const report = await reportStep(db.pool, {
      stepId: fails.stepId,
      attempt: 1,
      delivery: 1,
      outcome: 'permanent_failure',
      error: { kind: 'PaymentDeclined', message: 'card refused' },
    });
    expect(report).toMatchObject({ accepted: true, stepState: 'error', taskState: 'error', reason: 'permanent failure' });

    expect(await queueMessages(db.pool, 'perm_ns')).toHaveLength(1); // only the running step's hidden message
    expect(await claimAll('perm_ns')).toEqual([]);
    const status = await getTaskStatus(db.pool, task.taskId);
    const states = Object.fromEntries(status!.steps.map((s) => [s.name, s.state]));
    expect(states).toEqual({ root: 'complete', fails: 'error', slow: 'in_progress', queued: 'cancelled', after: 'cancelled' });

    // The step that was already running may still report; it is recorded and starts nothing.
    const late = await succeed(running);
    expect(late).toMatchObject({ accepted: true, stepState: 'complete', taskState: 'error', enqueued: 0 });
    expect(await queueMessages(db.pool, 'perm_ns')).toEqual([]);
    const transitions = await db.pool.query(
      'SELECT to_state, reason FROM tasker.task_transitions WHERE task_id = $1 ORDER BY transition_id DESC LIMIT 1',
      [task.taskId],
    );
    expect(transitions.rows).toEqual([{ to_state: 'error', reason: 'step "fails" failed: permanent failure' }]);
  });

  it('rejects unknown outcomes', async () => {
    await expect(
      reportStep(db.pool, { stepId: '00000000-0000-7000-8000-000000000000', attempt: 1, delivery: 1, outcome: 'maybe' as never }),
    ).rejects.toThrow(/invalid outcome 'maybe'/);
  });
});

describe('report_step: leases', () => {
  it('rejects a late report after the lease expired and the step was claimed again; the step completes once', async () => {
    await registerTemplate(db.pool, single('late_ns'));
    await createTask(db.pool, { namespace: 'late_ns', name: 'single' });
    const slow = await claimOne('late_ns', 1, 'slow-worker');
    expect(await claimAll('late_ns')).toEqual([]);
    await sleep(1300);

    const fresh = await claimOne('late_ns', 30, 'fresh-worker');
    expect(fresh).toMatchObject({ stepId: slow.stepId, attempt: 1, delivery: 2 });

    const lateReport = await succeed(slow, 'from the slow worker');
    expect(lateReport.accepted).toBe(false);
    expect(lateReport.reason).toMatch(/lease lost: the step was delivered again \(delivery 2 is current, report was for 1\)/);

    const freshReport = await succeed(fresh, 'from the fresh worker');
    expect(freshReport).toMatchObject({ accepted: true, stepState: 'complete', taskState: 'complete' });

    const afterwards = await succeed(slow, 'again');
    expect(afterwards).toMatchObject({ accepted: false, reason: 'step is complete' });

    const status = await getTaskStatus(db.pool, slow.taskId);
    expect(status?.steps[0]?.results).toBe('from the fresh worker');
    expect((await transitionsOf(slow.stepId)).map((t) => `${t.from_state}->${t.to_state}#${t.delivery}`)).toEqual([
      'null->pending#0',
      'pending->enqueued#0',
      'enqueued->in_progress#1',
      'in_progress->in_progress#2',
      'in_progress->complete#2',
    ]);
  });

  it('accepts a late report when nobody took the step in the meantime', async () => {
    await registerTemplate(db.pool, single('slowok_ns'));
    await createTask(db.pool, { namespace: 'slowok_ns', name: 'single' });
    const step = await claimOne('slowok_ns', 1);
    await sleep(1200);
    expect((await succeed(step)).accepted).toBe(true);
    expect(await claimAll('slowok_ns')).toEqual([]);
  });
});

describe('report_step: decisions', () => {
  const decisionTemplate = template(
    'approval',
    [
      { name: 'review', handler: 'h.review', type: 'decision' },
      { name: 'auto_approve', handler: 'h.auto', dependencies: ['review'] },
      { name: 'manual_review', handler: 'h.manual', dependencies: ['review'] },
      { name: 'notify_manager', handler: 'h.notify', dependencies: ['manual_review'] },
      { name: 'finish', handler: 'h.finish', dependencies: ['auto_approve', 'manual_review'] },
    ],
    'decide_ns',
  );

  it('runs the chosen branch, skips the others down the line, and still runs the join', async () => {
    await registerTemplate(db.pool, decisionTemplate);
    const task = await createTask(db.pool, { namespace: 'decide_ns', name: 'approval' });
    const review = await claimOne('decide_ns');
    expect(review.successors).toEqual(['auto_approve', 'manual_review']);
    const report = await reportStep(db.pool, {
      stepId: review.stepId,
      attempt: 1,
      delivery: 1,
      outcome: 'success',
      result: { route: 'auto' },
      activate: ['auto_approve'],
    });
    expect(report.enqueued).toBe(1);
    const auto = await claimOne('decide_ns');
    expect(auto.stepName).toBe('auto_approve');
    await succeed(auto);
    const finish = await claimOne('decide_ns');
    expect(finish.stepName).toBe('finish');
    expect(finish.dependencyResults).toEqual({ auto_approve: { ok: 'auto_approve' } });
    expect((await succeed(finish)).taskState).toBe('complete');

    const states = Object.fromEntries((await getTaskStatus(db.pool, task.taskId))!.steps.map((s) => [s.name, s.state]));
    expect(states).toEqual({
      review: 'complete',
      auto_approve: 'complete',
      manual_review: 'skipped',
      notify_manager: 'skipped',
      finish: 'complete',
    });
  });

  it('turns an invalid decision into a permanent failure that says why', async () => {
    await registerTemplate(db.pool, decisionTemplate);
    await createTask(db.pool, { namespace: 'decide_ns', name: 'approval' });
    const review = await claimOne('decide_ns');
    const report = await reportStep(db.pool, {
      stepId: review.stepId,
      attempt: 1,
      delivery: 1,
      outcome: 'success',
      activate: ['teleport'],
    });
    expect(report).toMatchObject({ accepted: true, stepState: 'error', taskState: 'error' });
    const status = await getTaskStatus(db.pool, review.taskId);
    expect(status?.steps.find((s) => s.name === 'review')?.last_error).toMatchObject({
      kind: 'InvalidDecision',
      message: 'decision step "review" chose teleport, which is not among its successors: auto_approve, manual_review',
    });
  });
});
