/**
 * Review of re-registering a changed template under the same version (register_template,
 * migrations/0002) while a task of it is being created (create_task, migrations/0025).
 * docs/protocol.md: "Registering a different definition ... replaces it for tasks created
 * afterwards"; a task is built from one definition, the old or the new.
 *
 * To make the interleaving deterministic the test adds a statement trigger on
 * tasker.workflow_steps (in its own throw-away database) that waits on an advisory lock the test
 * holds: create_task then pauses between reading the template's steps and inserting the edges,
 * the window in which a concurrent registration can commit.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTask, getTaskStatus, registerTemplate, type TaskTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const NS = 'review_race';
const LOCK = 734_001;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`
    CREATE FUNCTION public.review_pause() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('review.pause', true) = 'on' THEN
        PERFORM pg_advisory_xact_lock_shared(${LOCK});
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER review_pause BEFORE INSERT ON tasker.workflow_steps
      FOR EACH STATEMENT EXECUTE FUNCTION public.review_pause();
  `);
});

afterAll(async () => {
  await db?.drop();
});

const v1: TaskTemplate = {
  namespace: NS,
  name: 'flip',
  version: '1.0.0',
  steps: [
    { name: 'first', handler: 'h.first' },
    { name: 'second', handler: 'h.second', dependencies: ['first'] },
  ],
};
// The same version, registered again with the order reversed: second runs first.
const v1Reversed: TaskTemplate = {
  ...v1,
  steps: [
    { name: 'first', handler: 'h.first', dependencies: ['second'] },
    { name: 'second', handler: 'h.second' },
  ],
};

describe('re-registering a template while a task of it is created', () => {
  it('the task is built from one definition: no step is enqueued while it waits for a pending dependency', async () => {
    await registerTemplate(db.pool, v1);
    const holder = await db.pool.connect();
    const creator = await db.pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [LOCK]);
      await creator.query('BEGIN');
      await creator.query("SET LOCAL review.pause = 'on'");
      const creating = createTask(creator, { namespace: NS, name: 'flip' });
      // Wait until create_task is paused in the trigger.
      for (let i = 0; ; i++) {
        const { rows } = await db.pool.query(
          'SELECT count(*)::int AS n FROM pg_locks WHERE locktype = $1 AND objid = $2 AND NOT granted',
          ['advisory', LOCK],
        );
        if (rows[0].n > 0) break;
        if (i > 200) throw new Error('create_task never reached the trigger');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      // The registration waits for the creation under way (0036), so it is started, not awaited.
      const registering = registerTemplate(db.pool, v1Reversed);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
      const created = await creating;
      await creator.query('COMMIT');
      expect((await registering).changed).toBe(true);

      const status = await getTaskStatus(db.pool, created.taskId);
      const steps = Object.fromEntries(
        (status?.steps ?? []).map((s) => [s.name, { state: s.state, dependencies: s.dependencies }]),
      );
      // Either definition is fine; a mix of both is not. An enqueued step must not have a pending dependency.
      for (const [name, step] of Object.entries(steps)) {
        if (step.state !== 'enqueued') continue;
        for (const dep of step.dependencies) expect({ step: name, dependency: dep, state: steps[dep]?.state }).toEqual({ step: name, dependency: dep, state: 'complete' });
      }
    } finally {
      await creator.query('ROLLBACK').catch(() => {});
      holder.release();
      creator.release();
    }
  });
});
