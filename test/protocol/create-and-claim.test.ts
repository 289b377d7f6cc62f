import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidProtocolArgumentError,
  InvalidTaskInputError,
  UnknownNamespaceError,
  UnknownTemplateError,
  claimSteps,
  createTask,
  getTaskStatus,
  registerTemplate,
  reportStep,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { archivedMessages, queueMessages, sendRaw } from '../support/queue.ts';
import { diamond, single, template } from '../support/templates.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

describe('create_task', () => {
  it('creates the task, its steps and edges, and enqueues only the root steps', async () => {
    await registerTemplate(db.pool, diamond('create_ns'));
    const created = await createTask(db.pool, {
      namespace: 'create_ns',
      name: 'diamond',
      context: { order: 42 },
      correlationId: 'corr-1',
      tags: ['a', 'b'],
      priority: 5,
    });
    expect(created).toMatchObject({ created: true, state: 'in_progress' });

    const status = await getTaskStatus(db.pool, created.taskId);
    expect(status).toMatchObject({
      state: 'in_progress',
      context: { order: 42 },
      correlation_id: 'corr-1',
      tags: ['a', 'b'],
      priority: 5,
      step_counts: { enqueued: 1, pending: 3 },
    });
    const byName = Object.fromEntries(status!.steps.map((s) => [s.name, s]));
    expect(byName['a']?.state).toBe('enqueued');
    expect(byName['d']?.dependencies).toEqual(['b', 'c']);

    const messages = await queueMessages(db.pool, 'create_ns');
    expect(messages).toHaveLength(1);
    expect(messages[0]?.message).toEqual({ task_id: created.taskId, step_id: byName['a']?.step_id, attempt: 1 });

    const transitions = await db.pool.query(
      'SELECT from_state, to_state, reason FROM tasker.task_transitions WHERE task_id = $1 ORDER BY transition_id',
      [created.taskId],
    );
    expect(transitions.rows).toEqual([
      { from_state: null, to_state: 'pending', reason: 'task created' },
      { from_state: 'pending', to_state: 'in_progress', reason: 'root steps enqueued' },
    ]);
  });

  it('returns the existing task for a used idempotency key, even under concurrent creates', async () => {
    await registerTemplate(db.pool, single('idem_ns'));
    const attempts = await Promise.all(
      Array.from({ length: 8 }, () =>
        createTask(db.pool, { namespace: 'idem_ns', name: 'single', idempotencyKey: 'order-77', context: {} }),
      ),
    );
    const ids = new Set(attempts.map((a) => a.taskId));
    expect(ids.size).toBe(1);
    expect(attempts.filter((a) => a.created)).toHaveLength(1);
    expect(await queueMessages(db.pool, 'idem_ns')).toHaveLength(1);
  });

  it('picks the highest version unless one is named', async () => {
    for (const version of ['1.2.0', '1.10.0', '1.9.3']) {
      await registerTemplate(db.pool, { ...template('versioned', [{ name: 'x', handler: `h.${version}` }], 'ver_ns'), version });
    }
    const latest = await createTask(db.pool, { namespace: 'ver_ns', name: 'versioned' });
    const pinned = await createTask(db.pool, { namespace: 'ver_ns', name: 'versioned', version: '1.2.0' });
    expect((await getTaskStatus(db.pool, latest.taskId))?.version).toBe('1.10.0');
    expect((await getTaskStatus(db.pool, pinned.taskId))?.steps[0]?.handler).toBe('h.1.2.0');
  });

  it('rejects unknown templates and non-object contexts with typed errors', async () => {
    await registerTemplate(db.pool, single('reject_ns'));
    await expect(createTask(db.pool, { namespace: 'reject_ns', name: 'nope' })).rejects.toThrow(UnknownTemplateError);
    await expect(createTask(db.pool, { namespace: 'reject_ns', name: 'single', version: '9.9.9' })).rejects.toThrow(
      /unknown task template reject_ns\/single@9\.9\.9/,
    );
    await expect(
      createTask(db.pool, { namespace: 'reject_ns', name: 'single', context: [1, 2] as never }),
    ).rejects.toThrow(InvalidTaskInputError);
  });

  it('wakes listeners of the namespace when steps are enqueued', async () => {
    await registerTemplate(db.pool, single('notify_ns'));
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    try {
      const received = new Promise<pg.Notification>((resolve) => listener.once('notification', resolve));
      await listener.query('LISTEN tasker_queue_notify_ns');
      await createTask(db.pool, { namespace: 'notify_ns', name: 'single' });
      const note = await received;
      expect(note.channel).toBe('tasker_queue_notify_ns');
      expect(note.payload).toBe('0');
    } finally {
      await listener.end();
    }
  });
});

describe('claim_steps', () => {
  it('returns the full step context in one call', async () => {
    await registerTemplate(db.pool, {
      ...template(
        'ctx',
        [
          { name: 'first', handler: 'h.first', inputs: { greeting: 'hi' } },
          {
            name: 'second',
            handler: 'h.second',
            dependencies: ['first'],
            retry: { max_attempts: 4 },
            timeout_ms: 1234,
            inputs: { n: 2 },
          },
        ],
        'ctx_ns',
      ),
    });
    const task = await createTask(db.pool, { namespace: 'ctx_ns', name: 'ctx', context: { user: 'ana' }, correlationId: 'c-9' });

    const first = await claimSteps(db.pool, { namespace: 'ctx_ns', batchSize: 10, leaseSeconds: 30, workerId: 'w1' });
    expect(first.unclaimed).toEqual([]);
    expect(first.claimed).toHaveLength(1);
    const step = first.claimed[0]!;
    expect(step).toMatchObject({
      taskId: task.taskId,
      stepName: 'first',
      handler: 'h.first',
      stepType: 'standard',
      attempt: 1,
      maxAttempts: 3,
      delivery: 1,
      timeoutMs: 30000,
      namespace: 'ctx_ns',
      taskName: 'ctx',
      taskVersion: '1.0.0',
      correlationId: 'c-9',
      context: { user: 'ana' },
      inputs: { greeting: 'hi' },
      dependencyResults: {},
      successors: ['second'],
      dependencyNames: [],
    });
    expect(step.leaseExpiresAt.getTime()).toBeGreaterThan(Date.now() + 20_000);

    await reportStep(db.pool, { stepId: step.stepId, attempt: 1, delivery: 1, outcome: 'success', result: { token: 'abc' } });
    const second = await claimSteps(db.pool, { namespace: 'ctx_ns', batchSize: 10, leaseSeconds: 30 });
    expect(second.claimed[0]).toMatchObject({
      stepName: 'second',
      maxAttempts: 4,
      timeoutMs: 1234,
      inputs: { n: 2 },
      dependencyResults: { first: { token: 'abc' } },
      successors: [],
      dependencyNames: ['first'],
    });
  });

  it('discards garbage, stale and orphan messages without running them, and counts them', async () => {
    await registerTemplate(db.pool, single('poison_ns'));
    const task = await createTask(db.pool, { namespace: 'poison_ns', name: 'single' });
    const status = await getTaskStatus(db.pool, task.taskId);
    const stepId = status!.steps[0]!.step_id;

    await sendRaw(db.pool, 'poison_ns', 'not an object');
    await sendRaw(db.pool, 'poison_ns', { step_id: 'not-a-uuid', attempt: 1 });
    await sendRaw(db.pool, 'poison_ns', { step_id: stepId, attempt: 1.5 });
    await sendRaw(db.pool, 'poison_ns', { step_id: stepId, attempt: 99999999999 });
    await sendRaw(db.pool, 'poison_ns', { step_id: '00000000-0000-7000-8000-000000000000', attempt: 1 });
    await sendRaw(db.pool, 'poison_ns', { task_id: task.taskId, step_id: stepId, attempt: 7 });
    await sendRaw(db.pool, 'poison_ns', { task_id: task.taskId, step_id: stepId, attempt: 1 });

    const result = await claimSteps(db.pool, { namespace: 'poison_ns', batchSize: 20, leaseSeconds: 30 });
    expect(result.claimed.map((c) => c.stepId)).toEqual([stepId]);
    const reasons = result.unclaimed.map((u) => `${u.outcome}: ${u.reason}`).sort();
    expect(reasons).toEqual(
      [
        'discarded: duplicate message',
        'discarded: malformed message',
        'discarded: malformed message',
        'discarded: malformed message',
        'discarded: malformed message',
        'discarded: stale attempt 7 (current is 1)',
        'discarded: unknown step',
      ].sort(),
    );
    // Discarded messages are kept in PGMQ's archive, and only the real one is still in the queue.
    expect(await archivedMessages(db.pool, 'poison_ns')).toHaveLength(7);
    expect(await queueMessages(db.pool, 'poison_ns')).toHaveLength(1);
  });

  it('makes uuid v7 keys that increase within a session on every server version (migration 0031)', async () => {
    // Keys order sibling steps' messages, batch instances and transition history. Before 18 the
    // keys come from _uuid_v7_portable, checked here whatever the server's version.
    for (const fn of ['tasker.uuid_v7()', 'tasker._uuid_v7_portable()']) {
      const { rows } = await db.pool.query<{ ids: string[]; increasing: boolean; version7: boolean; skew_ms: string }>(
        `SELECT array_agg(id::text ORDER BY n) AS ids,
                bool_and(id > prev) FILTER (WHERE prev IS NOT NULL) AS increasing,
                bool_and(substr(id::text, 15, 1) = '7' AND substr(id::text, 20, 1) IN ('8', '9', 'a', 'b')) AS version7,
                max(abs(('x' || lpad(substr(replace(id::text, '-', ''), 1, 12), 16, '0'))::bit(64)::bigint
                        - (extract(epoch FROM clock_timestamp()) * 1000)::bigint)) AS skew_ms
         FROM (SELECT n, id, lag(id) OVER (ORDER BY n) AS prev
               FROM (SELECT n, ${fn} AS id FROM generate_series(1, 5000) n) made) ordered`,
      );
      const row = rows[0];
      expect(row?.increasing, fn).toBe(true);
      expect(new Set(row?.ids).size, fn).toBe(5000);
      expect(row?.version7, fn).toBe(true);
      expect(Number(row?.skew_ms), fn).toBeLessThan(60_000);
    }
    // A clock that went back (or many ids in one tick) still gives the next value up.
    const client = await db.pool.connect();
    try {
      await client.query('SELECT tasker._uuid_v7_portable()');
      const ahead = BigInt(Date.now() + 3_600_000) * 4096n;
      await client.query("SELECT set_config('tasker.uuid_v7_last', $1, false)", [ahead.toString()]);
      const { rows } = await client.query<{ id: string }>('SELECT tasker._uuid_v7_portable()::text AS id');
      const hex = (rows[0]?.id ?? '').replaceAll('-', '');
      const ticks = (BigInt(`0x${hex.slice(0, 12)}`) << 12n) | BigInt(`0x${hex.slice(13, 16)}`);
      expect(ticks).toBe(ahead + 1n);
    } finally {
      await client.query("SELECT set_config('tasker.uuid_v7_last', '', false)");
      client.release();
    }
  });

  it('reads a message uuid without raising, whatever the message holds', async () => {
    // Literal arguments on purpose: the planner folds constants while planning, and an inlined
    // `'not-a-uuid'::uuid` would raise there whatever guarded it (migration 0030).
    const { rows } = await db.pool.query<{ value: string | null }>(
      `SELECT tasker._message_uuid(m, 'step_id')::text AS value FROM (VALUES
         ('{"step_id": "not-a-uuid"}'::jsonb), ('{"step_id": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"}'),
         ('{"step_id": 5}'), ('{"step_id": null}'), ('{}'), ('[1]'), ('"text"'),
         ('{"step_id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"}')) AS v(m)`,
    );
    expect(rows.map((row) => row.value)).toEqual([null, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', null, null, null, null, null, null]);
    const literal = await db.pool.query("SELECT tasker._message_uuid('{\"step_id\": \"not-a-uuid\"}', 'step_id') AS value");
    expect(literal.rows[0]).toEqual({ value: null });
  });

  it('never hands the same step to two of 8 concurrent claimers over 1,000 steps', async () => {
    await registerTemplate(db.pool, single('race_ns'));
    await db.pool.query(
      "SELECT tasker.create_task('race_ns', 'single', NULL, jsonb_build_object('i', i)) FROM generate_series(1, 1000) i",
    );

    const claimers = 8;
    const seen: string[][] = [];
    await Promise.all(
      Array.from({ length: claimers }, async (_, index) => {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        const mine: string[] = [];
        seen.push(mine);
        try {
          let emptyInARow = 0;
          while (emptyInARow < 3) {
            const { claimed } = await claimSteps(client, {
              namespace: 'race_ns',
              batchSize: 7,
              leaseSeconds: 300,
              workerId: `claimer-${index}`,
            });
            if (claimed.length === 0) {
              emptyInARow += 1;
              continue;
            }
            emptyInARow = 0;
            for (const step of claimed) {
              mine.push(step.stepId);
              const report = await reportStep(client, {
                stepId: step.stepId,
                attempt: step.attempt,
                delivery: step.delivery,
                outcome: 'success',
                result: { by: index },
              });
              expect(report.accepted).toBe(true);
            }
          }
        } finally {
          await client.end();
        }
      }),
    );

    const all = seen.flat();
    expect(all).toHaveLength(1000);
    expect(new Set(all).size).toBe(1000);
    expect(seen.filter((mine) => mine.length > 0).length).toBeGreaterThan(1);

    const { rows } = await db.pool.query<{ claims: number; completions: number; complete_tasks: number }>(
      `SELECT
         (SELECT count(*)::int FROM tasker.step_transitions tr JOIN tasker.workflow_steps s USING (step_id)
            JOIN tasker.tasks t ON t.task_id = s.task_id JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
          WHERE n.name = 'race_ns' AND tr.to_state = 'in_progress') AS claims,
         (SELECT count(*)::int FROM tasker.step_transitions tr JOIN tasker.workflow_steps s USING (step_id)
            JOIN tasker.tasks t ON t.task_id = s.task_id JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
          WHERE n.name = 'race_ns' AND tr.to_state = 'complete') AS completions,
         (SELECT count(*)::int FROM tasker.tasks t JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
          WHERE n.name = 'race_ns' AND t.state = 'complete') AS complete_tasks`,
    );
    expect(rows[0]).toEqual({ claims: 1000, completions: 1000, complete_tasks: 1000 });
    expect(await queueMessages(db.pool, 'race_ns')).toHaveLength(0);
  });

  it('validates its arguments and the namespace', async () => {
    await expect(claimSteps(db.pool, { namespace: 'never_registered', batchSize: 1, leaseSeconds: 1 })).rejects.toThrow(
      UnknownNamespaceError,
    );
    await registerTemplate(db.pool, single('args_ns'));
    await expect(claimSteps(db.pool, { namespace: 'args_ns', batchSize: 0, leaseSeconds: 1 })).rejects.toThrow(
      InvalidProtocolArgumentError,
    );
    await expect(claimSteps(db.pool, { namespace: 'args_ns', batchSize: 1, leaseSeconds: 0 })).rejects.toThrow(
      /invalid lease 0/,
    );
  });
});
