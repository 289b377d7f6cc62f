import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidProtocolArgumentError,
  claimSteps,
  createTask,
  getTaskStatus,
  registerTemplate,
  reportAndClaim,
  type ClaimedStep,
  type StepReport,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { queueMessages } from '../support/queue.ts';
import { diamond, single, template } from '../support/templates.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, template('line', [
    { name: 'one', handler: 'h.one' },
    { name: 'two', handler: 'h.two', dependencies: ['one'] },
  ], 'rac_line'));
  await registerTemplate(db.pool, diamond('rac_diamond'));
  await registerTemplate(db.pool, single('rac_other'));
  await registerTemplate(db.pool, template('line', [
    { name: 'one', handler: 'h.one' },
    { name: 'two', handler: 'h.two', dependencies: ['one'] },
  ], 'rac_depth'));
  await registerTemplate(db.pool, template('fan', [
    { name: 'root', handler: 'h.root' },
    ...Array.from({ length: 12 }, (_, i) => ({ name: `leaf_${i}`, handler: 'h.leaf', dependencies: ['root'] })),
  ], 'rac_fan'));
  await registerTemplate(db.pool, template('forked', [
    { name: 'left', handler: 'h.left' },
    { name: 'right', handler: 'h.right' },
    { name: 'after_left', handler: 'h.after', dependencies: ['left'] },
  ], 'rac_forked'));
});

afterAll(async () => {
  await db.drop();
});

async function claimOne(namespace: string, workerId = 'w1'): Promise<ClaimedStep> {
  const { claimed } = await claimSteps(db.pool, { namespace, batchSize: 1, leaseSeconds: 30, workerId });
  const step = claimed[0];
  if (step === undefined) throw new Error(`nothing to claim in ${namespace}`);
  return step;
}

function success(step: ClaimedStep, result: StepReport['result'] = { from: step.stepName }): StepReport {
  return { stepId: step.stepId, attempt: step.attempt, delivery: step.delivery, outcome: 'success', result };
}

async function stateOf(stepId: string): Promise<{ state: string; claimed_by: string | null }> {
  const { rows } = await db.pool.query('SELECT state, claimed_by FROM tasker.workflow_steps WHERE step_id = $1', [stepId]);
  return rows[0];
}

describe('report_and_claim', () => {
  it('commits the report and claims the successor it enqueued, with the dependency result', async () => {
    const task = await createTask(db.pool, { namespace: 'rac_line', name: 'line' });
    const one = await claimOne('rac_line');
    const { results, claim } = await reportAndClaim(db.pool, [success(one, { n: 1 })], { workerId: 'w1', claimMax: 1, leaseSeconds: 30 });
    expect(results).toEqual([expect.objectContaining({ stepId: one.stepId, accepted: true, stepState: 'complete', enqueued: 1 })]);
    expect(claim.unclaimed).toEqual([]);
    expect(claim.claimed).toHaveLength(1);
    const two = claim.claimed[0]!;
    expect(two).toMatchObject({ taskId: task.taskId, stepName: 'two', handler: 'h.two', attempt: 1, delivery: 1, namespace: 'rac_line' });
    expect(two.dependencyResults).toEqual({ one: { n: 1 } });
    expect(two.leaseExpiresAt).toBeInstanceOf(Date);
    expect(two.leaseExpiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(await stateOf(two.stepId)).toEqual({ state: 'in_progress', claimed_by: 'w1' });
    expect(await queueMessages(db.pool, 'rac_line')).toHaveLength(1); // two's message, now leased

    const last = await reportAndClaim(db.pool, [success(two)], { workerId: 'w1', claimMax: 1, leaseSeconds: 30 });
    expect(last.results[0]).toMatchObject({ accepted: true, taskState: 'complete', enqueued: 0 });
    expect(last.claim.claimed).toEqual([]);
    expect((await getTaskStatus(db.pool, task.taskId))?.state).toBe('complete');
  });

  it('claims nothing with claimMax 0: the successor stays enqueued for any worker', async () => {
    await createTask(db.pool, { namespace: 'rac_line', name: 'line' });
    const one = await claimOne('rac_line');
    const { results, claim } = await reportAndClaim(db.pool, [success(one)], { workerId: 'w1', claimMax: 0, leaseSeconds: 30 });
    expect(results[0]).toMatchObject({ accepted: true, enqueued: 1 });
    expect(claim.claimed).toEqual([]);
    const two = await claimOne('rac_line', 'w2');
    expect(two.stepName).toBe('two');
    expect((await reportAndClaim(db.pool, [success(two)], { workerId: 'w2', claimMax: 0, leaseSeconds: 30 })).results[0]!.accepted).toBe(true);
  });

  it('claims at most claimMax, and only in namespaces where the reports enqueued successors', async () => {
    await createTask(db.pool, { namespace: 'rac_other', name: 'single' }); // ready, but nothing of ours leads there
    await createTask(db.pool, { namespace: 'rac_diamond', name: 'diamond' });
    const a = await claimOne('rac_diamond');
    const { results, claim } = await reportAndClaim(db.pool, [success(a)], { workerId: 'w1', claimMax: 1, leaseSeconds: 30 });
    expect(results[0]).toMatchObject({ accepted: true, enqueued: 2 });
    expect(claim.claimed.map((step) => step.stepName)).toHaveLength(1);
    expect(['b', 'c']).toContain(claim.claimed[0]!.stepName);
    // The other branch is still there for anyone; the other namespace's step was not touched.
    const other = await claimOne('rac_diamond', 'w2');
    expect(['b', 'c']).toContain(other.stepName);
    expect(other.stepName).not.toBe(claim.claimed[0]!.stepName);
    const single = await claimOne('rac_other', 'w2');
    expect(single.stepName).toBe('only');
    // Both branches reported together: the join is enqueued once and claimed once.
    const join = await reportAndClaim(db.pool, [success(claim.claimed[0]!), success(other)], { workerId: 'w1', claimMax: 2, leaseSeconds: 30 });
    expect(join.results.map((r) => r.accepted)).toEqual([true, true]);
    expect(join.claim.claimed.map((step) => step.stepName)).toEqual(['d']);
    expect(Object.keys(join.claim.claimed[0]!.dependencyResults).sort()).toEqual(['b', 'c']);
    expect([...join.claim.claimed[0]!.dependencyNames].sort()).toEqual(['b', 'c']);
  });

  it('gives every enqueued successor its own message: leased for those it claimed, visible for the rest', async () => {
    // Two tasks' roots reported together: 24 successors sent as batches, 5 of them claimed.
    await createTask(db.pool, { namespace: 'rac_fan', name: 'fan' });
    await createTask(db.pool, { namespace: 'rac_fan', name: 'fan' });
    const roots = (await claimSteps(db.pool, { namespace: 'rac_fan', batchSize: 2, leaseSeconds: 30, workerId: 'w1' })).claimed;
    expect(roots).toHaveLength(2);
    const { results, claim } = await reportAndClaim(db.pool, roots.map((root) => success(root)), { workerId: 'w1', claimMax: 5, leaseSeconds: 30 });
    expect(results.map((r) => r.enqueued)).toEqual([12, 12]);
    expect(claim.claimed).toHaveLength(5);
    const { rows } = await db.pool.query<{ step_id: string; state: string; own: boolean; hidden: boolean }>(
      `SELECT s.step_id, s.state, (q.message ->> 'step_id')::uuid = s.step_id AS own,
              q.vt > clock_timestamp() + interval '20 seconds' AS hidden
       FROM tasker.workflow_steps s
       JOIN tasker.tasks t ON t.task_id = s.task_id
       JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id AND n.name = 'rac_fan'
       LEFT JOIN pgmq.q_worker_rac_fan_queue q ON q.msg_id = s.msg_id
       WHERE s.name LIKE 'leaf%'`,
    );
    expect(rows).toHaveLength(24);
    expect(rows.every((row) => row.own)).toBe(true);
    const claimedIds = new Set(claim.claimed.map((step) => step.stepId));
    for (const row of rows) {
      expect(row.state).toBe(claimedIds.has(row.step_id) ? 'in_progress' : 'enqueued');
      expect(row.hidden).toBe(claimedIds.has(row.step_id));
    }
    // The 19 left are claimed by anyone, each exactly once.
    const rest = (await claimSteps(db.pool, { namespace: 'rac_fan', batchSize: 50, leaseSeconds: 30, workerId: 'w2' })).claimed;
    expect(rest.map((step) => step.stepId).sort()).toEqual(rows.filter((row) => !claimedIds.has(row.step_id)).map((row) => row.step_id).sort());
  });

  it('claims nothing for a rejected report, and rolls back both when the input is bad', async () => {
    await createTask(db.pool, { namespace: 'rac_line', name: 'line' });
    const one = await claimOne('rac_line');
    const stale = { ...success(one), delivery: one.delivery + 5 };
    const rejected = await reportAndClaim(db.pool, [stale], { workerId: 'w1', claimMax: 1, leaseSeconds: 30 });
    expect(rejected.results[0]).toMatchObject({ accepted: false });
    expect(rejected.claim.claimed).toEqual([]);
    await expect(
      reportAndClaim(db.pool, [success(one)], { workerId: 'w1', claimMax: 1001, leaseSeconds: 30 }),
    ).rejects.toBeInstanceOf(InvalidProtocolArgumentError);
    await expect(
      reportAndClaim(db.pool, [success(one)], { workerId: 'w1', claimMax: 1, leaseSeconds: 0 }),
    ).rejects.toBeInstanceOf(InvalidProtocolArgumentError);
    // Neither failed call committed the report: it still counts now.
    expect(await stateOf(one.stepId)).toMatchObject({ state: 'in_progress' });
    const done = await reportAndClaim(db.pool, [success(one)], { workerId: 'w1', claimMax: 1, leaseSeconds: 30 });
    expect(done.results[0]).toMatchObject({ accepted: true });
    expect(done.claim.claimed.map((step) => step.stepName)).toEqual(['two']);
  });

  it('announces on the queue channel only the steps it did not claim itself', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (message) => heard.push(`${message.channel}:${message.payload ?? ''}`));
    await listener.query('LISTEN tasker_queue_rac_line');
    await listener.query('LISTEN tasker_queue_rac_diamond');
    const settle = async (): Promise<string[]> => {
      await listener.query('SELECT 1'); // notifications committed before this arrive before its answer
      return heard.splice(0);
    };
    try {
      await createTask(db.pool, { namespace: 'rac_line', name: 'line' });
      await settle();
      const one = await claimOne('rac_line');
      const claimed = await reportAndClaim(db.pool, [success(one)], { workerId: 'w1', claimMax: 1, leaseSeconds: 30 });
      expect(claimed.claim.claimed.map((step) => step.stepName)).toEqual(['two']);
      expect(await settle()).toEqual([]);
      await reportAndClaim(db.pool, [success(claimed.claim.claimed[0]!)], { workerId: 'w1', claimMax: 0, leaseSeconds: 30 });

      await createTask(db.pool, { namespace: 'rac_line', name: 'line' });
      await settle();
      const next = await claimOne('rac_line');
      await reportAndClaim(db.pool, [success(next)], { workerId: 'w1', claimMax: 0, leaseSeconds: 30 });
      expect(await settle()).toEqual(['tasker_queue_rac_line:0']);
      await reportAndClaim(db.pool, [success(await claimOne('rac_line'))], { workerId: 'w1', claimMax: 0, leaseSeconds: 30 });

      // Two branches enqueued, room for one: the other is announced.
      await createTask(db.pool, { namespace: 'rac_diamond', name: 'diamond' });
      await settle();
      const a = await claimOne('rac_diamond');
      const half = await reportAndClaim(db.pool, [success(a)], { workerId: 'w1', claimMax: 1, leaseSeconds: 30 });
      expect(half.claim.claimed).toHaveLength(1);
      expect(await settle()).toEqual(['tasker_queue_rac_diamond:0']);
    } finally {
      await listener.end();
    }
  });
  it('gives the successor to its reporter ahead of older messages, already leased, and fills the room left from the queue', async () => {
    const first = await createTask(db.pool, { namespace: 'rac_depth', name: 'line' });
    const one = await claimOne('rac_depth');
    const waiting = await createTask(db.pool, { namespace: 'rac_depth', name: 'line' }); // its root's message is older
    const { claim } = await reportAndClaim(db.pool, [success(one)], { workerId: 'w1', claimMax: 1, leaseSeconds: 30 });
    expect(claim.claimed.map((step) => [step.taskId, step.stepName])).toEqual([[first.taskId, 'two']]);
    const two = claim.claimed[0]!;
    // Its message exists (it carries the redelivery) and is hidden for the lease, as a queue read leaves it.
    const message = (await queueMessages(db.pool, 'rac_depth')).find((m) => String(m.msg_id) === String(two.msgId));
    expect(message).toBeDefined();
    expect(message!.vt.getTime()).toBeGreaterThan(Date.now() + 20_000);
    const { rows: log } = await db.pool.query(
      'SELECT from_state, to_state, actor, reason FROM tasker.step_transitions WHERE step_id = $1 ORDER BY transition_id',
      [two.stepId],
    );
    // One write took it from pending to in_progress (0025); the log still shows both transitions.
    expect(log.map((row) => `${row.from_state ?? ''}>${row.to_state}`)).toEqual(['>pending', 'pending>enqueued', 'enqueued>in_progress']);
    expect(log[1]).toMatchObject({ actor: 'w1', reason: 'dependencies complete' });
    expect(log[2]).toMatchObject({ actor: 'w1', reason: 'claimed' });

    // Room for two, one successor: the other place goes to the oldest message in the queue.
    const last = await reportAndClaim(db.pool, [success(two)], { workerId: 'w1', claimMax: 1, leaseSeconds: 30 });
    expect(last.claim.claimed).toEqual([]);
    const root = await claimOne('rac_depth', 'w2');
    expect(root.taskId).toBe(waiting.taskId);
    const third = await createTask(db.pool, { namespace: 'rac_depth', name: 'line' });
    const mixed = await reportAndClaim(db.pool, [success(root)], { workerId: 'w2', claimMax: 2, leaseSeconds: 30 });
    expect(mixed.claim.claimed.map((step) => [step.taskId, step.stepName])).toEqual([
      [waiting.taskId, 'two'],
      [third.taskId, 'one'],
    ]);
    expect(mixed.claim.claimed.every((step) => step.delivery === 1 && step.namespace === 'rac_depth')).toBe(true);
  });

  it('does not claim a successor that a later report in the same call cancelled', async () => {
    await createTask(db.pool, { namespace: 'rac_forked', name: 'forked' });
    const { claimed } = await claimSteps(db.pool, { namespace: 'rac_forked', batchSize: 2, leaseSeconds: 30, workerId: 'w1' });
    const left = claimed.find((step) => step.stepName === 'left')!;
    const right = claimed.find((step) => step.stepName === 'right')!;
    const { results, claim } = await reportAndClaim(db.pool, [
      success(left),
      { stepId: right.stepId, attempt: right.attempt, delivery: right.delivery, outcome: 'permanent_failure', error: { message: 'no' } },
    ], { workerId: 'w1', claimMax: 2, leaseSeconds: 30 });
    expect(results.map((r) => r.accepted)).toEqual([true, true]);
    expect(results[1]).toMatchObject({ taskState: 'error' });
    expect(claim.claimed).toEqual([]);
    // It was leased in the same write that enqueued it (0025), so the failure cancelled it from
    // in_progress, and its message went with it: nobody will ever run it.
    const { rows } = await db.pool.query(
      "SELECT state, msg_id FROM tasker.workflow_steps WHERE task_id = $1 AND name = 'after_left'",
      [left.taskId],
    );
    expect(rows).toMatchObject([{ state: 'cancelled' }]);
    expect(rows[0]!.msg_id).not.toBeNull(); // it was sent a message, which must be gone
    const messages = await queueMessages(db.pool, 'rac_forked');
    expect(messages.some((m) => String(m.msg_id) === String(rows[0]!.msg_id))).toBe(false);
  });
});
