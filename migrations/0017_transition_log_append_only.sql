-- The transition logs become strictly append-only: no row is ever updated again.
--
-- Until now the latest transition of each task and step carried a most_recent flag (with a
-- partial unique index), and every logged change first cleared the previous row's flag. That
-- UPDATE rewrote a log row per transition: a second heap tuple, new entries in every index of
-- the log (the flag is in a partial index's predicate, so the update is never HOT), a dead tuple
-- for autovacuum, and the WAL for all of it. A step makes three transitions (enqueued,
-- in_progress, complete) and its task two, so the flag cost more writes than the log rows it
-- marked. Measured with single-step tasks claimed and reported 50 at a time (claim_steps +
-- report_steps, one session, after a warm-up): 7,400 bytes of WAL per step with the flag,
-- 4,900 without (the same workload, alternating databases, repeated).
--
-- The current state never needed the flag: it is the task's or step's own `state` column, which
-- the state-machine triggers guard and the state indexes serve. The log is history, ordered by
-- transition_id (uuid v7: time-ordered, and monotonic within a session); the latest row of a
-- task or step is one probe of task_transitions_history / step_transitions_history
-- (ORDER BY transition_id DESC LIMIT 1), and its to_state equals the row's state because the
-- same trigger that moves the state appends it.
--
-- What the partial unique index also guaranteed, that no second "current" row could be written
-- by hand, becomes a stronger rule: rows reach the logs only from the state triggers. A
-- statement-level BEFORE INSERT trigger refuses an INSERT issued outside any trigger
-- (pg_trigger_depth() = 0 when its WHEN clause is evaluated; the logging triggers insert at depth
-- 1). Its WHEN clause is evaluated once per statement and calls no function on the hot path.
-- Any UPDATE of a log row is refused. Rows still leave with their task (ON DELETE CASCADE).

-- tasker._log_task_changes: as in 0010 (a task's state changes only along task_state_machine,
-- else TK100; each change is appended to task_transitions; terminal states are announced on
-- tasker_task_state), without moving a most_recent flag.
CREATE OR REPLACE FUNCTION tasker._log_task_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_ids uuid[];
  v_from text[];
  v_to text[];
  v_bad record;
  v_index int;
BEGIN
  SELECT array_agg(c.task_id), array_agg(c.from_state), array_agg(c.to_state)
  INTO v_ids, v_from, v_to
  FROM (
    SELECT u.task_id,
           min(u.state) FILTER (WHERE u.old) AS from_state,
           min(u.state) FILTER (WHERE NOT u.old) AS to_state
    FROM (SELECT true AS old, o.task_id, o.state FROM old_rows o
          UNION ALL
          SELECT false, n.task_id, n.state FROM new_rows n) u
    GROUP BY u.task_id
  ) c
  WHERE c.from_state <> c.to_state;
  IF v_ids IS NULL THEN
    RETURN NULL;
  END IF;

  SELECT x.task_id, x.from_state, x.to_state INTO v_bad
  FROM unnest(v_ids, v_from, v_to) AS x(task_id, from_state, to_state)
  WHERE NOT EXISTS (SELECT 1 FROM tasker.task_state_machine m
                    WHERE m.from_state = x.from_state AND m.to_state = x.to_state);
  IF FOUND THEN
    RAISE EXCEPTION 'illegal task transition % -> % for task %',
      v_bad.from_state, v_bad.to_state, v_bad.task_id
      USING ERRCODE = 'TK100';
  END IF;

  INSERT INTO tasker.task_transitions (task_id, from_state, to_state, actor, reason)
  SELECT x.task_id, x.from_state, x.to_state, tasker._actor(), tasker._reason()
  FROM unnest(v_ids, v_from, v_to) AS x(task_id, from_state, to_state);

  FOR v_index IN 1 .. cardinality(v_ids) LOOP
    IF v_to[v_index] IN ('complete', 'error', 'cancelled') THEN
      PERFORM pg_notify('tasker_task_state',
        json_build_object('task_id', v_ids[v_index], 'state', v_to[v_index])::text);
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

-- tasker._log_step_changes: as in 0010 (a step's state changes only along step_state_machine,
-- else TK100; a change of state, attempt or delivery is appended to step_transitions; updates
-- that touch none of them log nothing), without moving a most_recent flag.
CREATE OR REPLACE FUNCTION tasker._log_step_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_ids uuid[];
  v_tasks uuid[];
  v_from text[];
  v_to text[];
  v_attempts int[];
  v_deliveries int[];
  v_bad record;
BEGIN
  SELECT array_agg(c.step_id), array_agg(c.task_id), array_agg(c.from_state), array_agg(c.to_state),
         array_agg(c.attempt), array_agg(c.deliveries)
  INTO v_ids, v_tasks, v_from, v_to, v_attempts, v_deliveries
  FROM (
    SELECT u.step_id,
           (array_agg(u.task_id))[1] AS task_id,
           min(u.state) FILTER (WHERE u.old) AS from_state,
           min(u.state) FILTER (WHERE NOT u.old) AS to_state,
           min(u.attempt) FILTER (WHERE u.old) AS old_attempt,
           min(u.attempt) FILTER (WHERE NOT u.old) AS attempt,
           min(u.deliveries) FILTER (WHERE u.old) AS old_deliveries,
           min(u.deliveries) FILTER (WHERE NOT u.old) AS deliveries
    FROM (SELECT true AS old, o.step_id, o.task_id, o.state, o.attempt, o.deliveries FROM old_rows o
          UNION ALL
          SELECT false, n.step_id, n.task_id, n.state, n.attempt, n.deliveries FROM new_rows n) u
    GROUP BY u.step_id
  ) c
  WHERE c.from_state <> c.to_state OR c.old_attempt <> c.attempt OR c.old_deliveries <> c.deliveries;
  IF v_ids IS NULL THEN
    RETURN NULL;
  END IF;

  SELECT x.step_id, x.from_state, x.to_state INTO v_bad
  FROM unnest(v_ids, v_from, v_to) AS x(step_id, from_state, to_state)
  WHERE NOT EXISTS (SELECT 1 FROM tasker.step_state_machine m
                    WHERE m.from_state = x.from_state AND m.to_state = x.to_state);
  IF FOUND THEN
    RAISE EXCEPTION 'illegal step transition % -> % for step %',
      v_bad.from_state, v_bad.to_state, v_bad.step_id
      USING ERRCODE = 'TK100';
  END IF;

  INSERT INTO tasker.step_transitions
    (step_id, task_id, from_state, to_state, attempt, delivery, actor, reason)
  SELECT x.step_id, x.task_id, x.from_state, x.to_state, x.attempt, x.delivery, tasker._actor(), tasker._reason()
  FROM unnest(v_ids, v_tasks, v_from, v_to, v_attempts, v_deliveries)
    AS x(step_id, task_id, from_state, to_state, attempt, delivery);
  RETURN NULL;
END
$$;

DROP TRIGGER task_transitions_current_is_last ON tasker.task_transitions;
DROP TRIGGER step_transitions_current_is_last ON tasker.step_transitions;
DROP TRIGGER task_transitions_append_only ON tasker.task_transitions;
DROP TRIGGER step_transitions_append_only ON tasker.step_transitions;
DROP INDEX tasker.task_transitions_current;
DROP INDEX tasker.step_transitions_current;
ALTER TABLE tasker.task_transitions DROP COLUMN most_recent;
ALTER TABLE tasker.step_transitions DROP COLUMN most_recent;

-- tasker._refuse_transition_rewrite: transition rows are history. It refuses every UPDATE of a
-- log row, and every INSERT that does not come from a state trigger (the triggers below call it
-- only then), so the log holds exactly the transitions the state machines allowed.
CREATE OR REPLACE FUNCTION tasker._refuse_transition_rewrite() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    RAISE EXCEPTION '% is append-only and written only by the state triggers: change the task or step state instead',
      TG_TABLE_NAME
      USING ERRCODE = 'TK100';
  END IF;
  RAISE EXCEPTION '% is append-only: transitions are history and cannot be changed', TG_TABLE_NAME
    USING ERRCODE = 'TK100';
END
$$;

CREATE TRIGGER task_transitions_append_only
  BEFORE UPDATE ON tasker.task_transitions
  FOR EACH ROW EXECUTE FUNCTION tasker._refuse_transition_rewrite();
CREATE TRIGGER task_transitions_written_by_triggers
  BEFORE INSERT ON tasker.task_transitions
  FOR EACH STATEMENT WHEN (pg_trigger_depth() = 0)
  EXECUTE FUNCTION tasker._refuse_transition_rewrite();

CREATE TRIGGER step_transitions_append_only
  BEFORE UPDATE ON tasker.step_transitions
  FOR EACH ROW EXECUTE FUNCTION tasker._refuse_transition_rewrite();
CREATE TRIGGER step_transitions_written_by_triggers
  BEFORE INSERT ON tasker.step_transitions
  FOR EACH STATEMENT WHEN (pg_trigger_depth() = 0)
  EXECUTE FUNCTION tasker._refuse_transition_rewrite();
