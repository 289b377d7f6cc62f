import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimSteps, createTask, registerTemplate, reportStep } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { diamond } from '../support/templates.ts';

let db: TestDatabase;
let taskId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, diamond('sm_ns'));
  taskId = (await createTask(db.pool, { namespace: 'sm_ns', name: 'diamond' })).taskId;
  const [a] = (await claimSteps(db.pool, { namespace: 'sm_ns', batchSize: 1, leaseSeconds: 30 })).claimed;
  await reportStep(db.pool, { stepId: a!.stepId, attempt: 1, delivery: 1, outcome: 'success' });
});

afterAll(async () => {
  await db.drop();
});

async function stepId(name: string): Promise<string> {
  const { rows } = await db.pool.query<{ step_id: string }>(
    'SELECT step_id FROM tasker.workflow_steps WHERE task_id = $1 AND name = $2',
    [taskId, name],
  );
  return rows[0]!.step_id;
}

describe('state machines', () => {
  it('refuses illegal step transitions, whoever attempts them', async () => {
    const a = await stepId('a');
    await expect(db.pool.query("UPDATE tasker.workflow_steps SET state = 'pending' WHERE step_id = $1", [a])).rejects.toMatchObject({
      code: 'TK100',
      message: expect.stringMatching(/illegal step transition complete -> pending/),
    });
    const d = await stepId('d');
    await expect(db.pool.query("UPDATE tasker.workflow_steps SET state = 'complete' WHERE step_id = $1", [d])).rejects.toMatchObject({
      code: 'TK100',
      message: expect.stringMatching(/illegal step transition pending -> complete/),
    });
    await expect(
      db.pool.query(
        "INSERT INTO tasker.workflow_steps (task_id, name, handler, step_type, state, max_attempts, max_deliveries, retryable, backoff_ms, max_backoff_ms, timeout_ms) VALUES ($1, 'x', 'h', 'standard', 'complete', 1, 1, true, 0, 0, 1)",
        [taskId],
      ),
    ).rejects.toMatchObject({ code: 'TK100', message: expect.stringMatching(/illegal initial step state "complete"/) });
    await expect(db.pool.query("UPDATE tasker.workflow_steps SET state = 'bogus' WHERE step_id = $1", [a])).rejects.toMatchObject({
      code: '23514',
    });
  });

  it('logs a row written past a state with the state in between, each hop checked', async () => {
    const d = await stepId('d');
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        "SELECT set_config('tasker.actor', 'tester', true), set_config('tasker.reason', 'first hop', true), set_config('tasker.then_reason', 'second hop', true)",
      );
      await client.query("UPDATE tasker.workflow_steps SET state = 'in_progress', deliveries = 1 WHERE step_id = $1", [d]);
      const { rows } = await client.query<{ hop: string; delivery: number; actor: string; reason: string }>(
        `SELECT coalesce(from_state, '') || '>' || to_state AS hop, delivery, actor, reason FROM tasker.step_transitions
         WHERE step_id = $1 ORDER BY transition_id`,
        [d],
      );
      expect(rows).toEqual([
        { hop: '>pending', delivery: 0, actor: 'client', reason: 'task created' },
        { hop: 'pending>enqueued', delivery: 0, actor: 'tester', reason: 'first hop' },
        { hop: 'enqueued>in_progress', delivery: 1, actor: 'tester', reason: 'second hop' },
      ]);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('refuses illegal task transitions', async () => {
    await expect(db.pool.query("UPDATE tasker.tasks SET state = 'pending' WHERE task_id = $1", [taskId])).rejects.toMatchObject({
      code: 'TK100',
      message: expect.stringMatching(/illegal task transition in_progress -> pending/),
    });
  });

  it('keeps the transition log append-only', async () => {
    await expect(
      db.pool.query("UPDATE tasker.step_transitions SET to_state = 'error' WHERE task_id = $1", [taskId]),
    ).rejects.toMatchObject({ code: 'TK100', message: expect.stringMatching(/append-only/) });
    await expect(
      db.pool.query("UPDATE tasker.task_transitions SET reason = 'rewritten' WHERE task_id = $1", [taskId]),
    ).rejects.toMatchObject({ code: 'TK100', message: expect.stringMatching(/append-only/) });
  });

  it('takes log rows only from the state triggers, never from a hand-written INSERT', async () => {
    await expect(
      db.pool.query(
        `INSERT INTO tasker.step_transitions (step_id, task_id, from_state, to_state, attempt, delivery, actor)
         SELECT step_id, task_id, state, 'complete', 1, 0, 'x' FROM tasker.workflow_steps WHERE task_id = $1 LIMIT 1`,
        [taskId],
      ),
    ).rejects.toMatchObject({ code: 'TK100', message: expect.stringMatching(/written only by the state triggers/) });
    await expect(
      db.pool.query(
        "INSERT INTO tasker.task_transitions (task_id, from_state, to_state, actor) VALUES ($1, 'in_progress', 'complete', 'x')",
        [taskId],
      ),
    ).rejects.toMatchObject({ code: 'TK100', message: expect.stringMatching(/written only by the state triggers/) });
  });

  it('derives the current state from the log: the latest row of every step and task matches its state', async () => {
    const { rows } = await db.pool.query<{ mismatched: number; missing: number }>(
      `SELECT
         (SELECT count(*)::int FROM tasker.workflow_steps s
          WHERE (SELECT t.to_state FROM tasker.step_transitions t WHERE t.step_id = s.step_id
                 ORDER BY t.transition_id DESC LIMIT 1) IS DISTINCT FROM s.state) +
         (SELECT count(*)::int FROM tasker.tasks k
          WHERE (SELECT t.to_state FROM tasker.task_transitions t WHERE t.task_id = k.task_id
                 ORDER BY t.transition_id DESC LIMIT 1) IS DISTINCT FROM k.state) AS mismatched,
         (SELECT count(*)::int FROM tasker.workflow_steps s
          WHERE NOT EXISTS (SELECT 1 FROM tasker.step_transitions t WHERE t.step_id = s.step_id)) AS missing`,
    );
    expect(rows[0]).toEqual({ mismatched: 0, missing: 0 });
  });

  it('deletes a task\'s log rows with the task, and empties the logs with TRUNCATE', async () => {
    const gone = (await createTask(db.pool, { namespace: 'sm_ns', name: 'diamond' })).taskId;
    const kept = (await createTask(db.pool, { namespace: 'sm_ns', name: 'diamond' })).taskId;
    const logRows = async (id: string): Promise<{ task: number; steps: number }> => {
      const { rows } = await db.pool.query<{ task: number; steps: number }>(
        `SELECT (SELECT count(*)::int FROM tasker.task_transitions WHERE task_id = $1) AS task,
                (SELECT count(*)::int FROM tasker.step_transitions WHERE task_id = $1) AS steps`,
        [id],
      );
      return rows[0]!;
    };
    expect(await logRows(gone)).toEqual({ task: 2, steps: 5 });
    // The task's steps go by the foreign key's cascade; their log rows by the delete triggers.
    await db.pool.query('DELETE FROM tasker.tasks WHERE task_id = $1', [gone]);
    expect(await logRows(gone)).toEqual({ task: 0, steps: 0 });
    expect(await logRows(kept)).toEqual({ task: 2, steps: 5 });

    // TRUNCATE ... CASCADE reaches the logs too, in a transaction rolled back to keep the fixture.
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('TRUNCATE tasker.tasks CASCADE');
      const { rows } = await client.query<{ n: number }>(
        'SELECT (SELECT count(*) FROM tasker.task_transitions) + (SELECT count(*) FROM tasker.step_transitions) AS n',
      );
      expect(Number(rows[0]!.n)).toBe(0);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect(await logRows(kept)).toEqual({ task: 2, steps: 5 });
  });

  it('records who made each transition and why', async () => {
    const { rows } = await db.pool.query(
      `SELECT t.from_state, t.to_state, t.actor, t.reason FROM tasker.step_transitions t
       JOIN tasker.workflow_steps s USING (step_id) WHERE s.task_id = $1 AND s.name = 'b' ORDER BY t.transition_id`,
      [taskId],
    );
    expect(rows).toEqual([
      { from_state: null, to_state: 'pending', actor: 'client', reason: 'task created' },
      { from_state: 'pending', to_state: 'enqueued', actor: 'worker', reason: 'dependencies complete' },
    ]);
  });
});
