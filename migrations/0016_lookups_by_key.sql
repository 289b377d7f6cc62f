-- Rows reached by key stay reached by key, whatever the planner believes about the tables.
--
-- The hot path looks steps and tasks up by id, then tests their state: "these steps, if still
-- pending", "these tasks, if still running". Two beliefs of the planner could turn such a lookup
-- into a scan of everything waiting:
--
-- - Statistics taken while the system was idle (every step complete, no task running: the common
--   state between bursts, and of every fresh deployment) say no step is pending and no task is
--   running. Written as `state = 'pending'`, the test then offered cheaper-looking ways in than
--   the primary key: the partial indexes whose predicate it implies (workflow_steps_open_by_task,
--   workflow_steps_leases) and tasks_by_state. With 5,000 single-step tasks waiting, completing
--   50 of them read 242,500 index entries, and a report of 50 took 113 ms; a drain of 2,000 ran
--   at 670 steps/s instead of 1,158.
-- - A plan is made once per session (the hot-path functions force generic plans) and kept until
--   the next ANALYZE. Made while the table was small, 0014's update of newly enqueued steps, a
--   join with unnest(), became a hash join over the whole primary key, run by every create_task
--   and every report that enqueued a successor from then on.
--
-- Either way the cost grew with the backlog until autovacuum next analyzed the tables. The rules
-- from here on, for rows reached by key:
--
-- - The keys are a `key = ANY (array)` condition on the table itself, never a join the planner
--   may turn around.
-- - A state is tested with IS NOT DISTINCT FROM. For these NOT NULL columns it means `=`, but the
--   planner can neither scan an index with it nor prove a partial index's predicate from it, so
--   the key is the only way in. (An UPDATE keeps the test on its target, where a concurrent change
--   is re-checked; a subquery fence would not be.)
-- - A per-task check for open steps, which wants workflow_steps_open_by_task by task_id, is an
--   EXISTS with OFFSET 0: a subplan run once per task with that task's id, never a join that may
--   scan the whole index instead.
--
-- Why not reshape the indexes instead: the orchestrator's due times and sweeps need partial
-- indexes on state (open steps, leases) to stay cheap on a large history, and any partial index
-- on state is a way in for a state test written as `=`. The rule goes where the lookups are.
--
-- test/protocol/stale-statistics.test.ts holds the hot path to about as many index entries read
-- per step at a backlog of 3,000 tasks as at 300: without this migration 115 and 569, with it
-- 70 and 73.
--
-- tasks_by_state is dropped: nothing lists tasks by state through it (task lists go by task_id,
-- deadlines by tasks_deadlines), and each task's transitions paid for an entry in it.
DROP INDEX tasker.tasks_by_state;


-- tasker.report_steps: 0010's contract and body. Its task-completion UPDATE finds the tasks by id
-- and looks for their open steps per task (a subplan, OFFSET 0); the enqueued count reaches the
-- successors by key.
CREATE OR REPLACE FUNCTION tasker.report_steps(p_reports jsonb, p_worker_id text DEFAULT NULL)
RETURNS TABLE (
  report_index int, step_id uuid, accepted boolean, reason text, step_state text, task_state text,
  next_retry_at timestamptz, enqueued int
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_actor text := coalesce(p_worker_id, 'worker');
  v_bad bigint;
  v_ids uuid[];
  v_attempts int[];
  v_deliveries int[];
  v_outcomes text[];
  v_results jsonb[];
  v_routed boolean[];
  v_fast uuid[];
  v_fast_tasks uuid[];
  v_advance_from uuid[];
  v_group record;
  v_report record;
BEGIN
  IF p_reports IS NULL OR jsonb_typeof(p_reports) <> 'array' THEN
    RAISE EXCEPTION 'invalid reports: expected a JSON array'
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'reports')::text;
  END IF;
  SELECT min(r.ordinality) INTO v_bad
  FROM jsonb_array_elements(p_reports) WITH ORDINALITY r
  WHERE tasker._message_uuid(r.value, 'step_id') IS NULL
     OR tasker._message_int(r.value, 'attempt') IS NULL
     OR tasker._message_int(r.value, 'delivery') IS NULL;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION 'invalid report #%: step_id (uuid), attempt and delivery (integers) are required', v_bad
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', format('reports[%s]', v_bad - 1))::text;
  END IF;

  -- v_routed: the report names successors (activate) or items (batch), so report_step decides it.
  SELECT array_agg(tasker._message_uuid(r.value, 'step_id') ORDER BY r.ordinality),
         array_agg(tasker._message_int(r.value, 'attempt') ORDER BY r.ordinality),
         array_agg(tasker._message_int(r.value, 'delivery') ORDER BY r.ordinality),
         array_agg(r.value ->> 'outcome' ORDER BY r.ordinality),
         array_agg(r.value -> 'result' ORDER BY r.ordinality),
         array_agg((r.value ? 'activate' AND r.value -> 'activate' <> 'null'::jsonb)
                   OR (r.value ? 'batch' AND r.value -> 'batch' <> 'null'::jsonb) ORDER BY r.ordinality)
  INTO v_ids, v_attempts, v_deliveries, v_outcomes, v_results, v_routed
  FROM jsonb_array_elements(p_reports) WITH ORDINALITY r;
  IF v_ids IS NULL THEN
    RETURN;
  END IF;

  -- Lock order everywhere: tasks (here, all of them, in order), then steps, then messages.
  PERFORM 1 FROM tasker.tasks t
  WHERE t.task_id IN (SELECT s.task_id FROM tasker.workflow_steps s WHERE s.step_id = ANY (v_ids))
  ORDER BY t.task_id
  FOR NO KEY UPDATE;

  -- The first report of each step is a plain success whose lease still holds: the fast path.
  WITH asked AS (
    SELECT DISTINCT ON (a.step_id) a.*
    FROM unnest(v_ids, v_attempts, v_deliveries, v_outcomes, v_routed) WITH ORDINALITY
      AS a(step_id, attempt, delivery, outcome, routed, ord)
    ORDER BY a.step_id, a.ord
  ),
  held AS (
    SELECT s.step_id, s.task_id, s.state, s.attempt, s.deliveries, s.step_type, t.state AS task_state
    FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
    WHERE s.step_id = ANY (v_ids)
    ORDER BY s.step_id
    FOR NO KEY UPDATE OF s
  )
  SELECT array_agg(h.step_id), array_agg(DISTINCT h.task_id),
         array_agg(h.step_id) FILTER (WHERE h.task_state = 'in_progress')
  INTO v_fast, v_fast_tasks, v_advance_from
  FROM asked a JOIN held h ON h.step_id = a.step_id
  WHERE a.outcome = 'success' AND NOT a.routed AND h.step_type NOT IN ('decision', 'batch')
    AND h.state = 'in_progress' AND h.attempt = a.attempt AND h.deliveries = a.delivery;

  IF v_fast IS NOT NULL THEN
    PERFORM tasker._set_actor(v_actor, 'handler succeeded');
    UPDATE tasker.workflow_steps s
    SET state = 'complete', results = v_results[array_position(v_ids, s.step_id)],
        finished_at = clock_timestamp(), lease_expires_at = NULL, updated_at = now()
    WHERE s.step_id = ANY (v_fast);

    FOR v_group IN
      SELECT n.name AS namespace, array_agg(s.msg_id) AS msg_ids
      FROM tasker.workflow_steps s
      JOIN tasker.tasks t ON t.task_id = s.task_id
      JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
      WHERE s.step_id = ANY (v_fast) AND s.msg_id IS NOT NULL
      GROUP BY n.name
    LOOP
      PERFORM pgmq.delete(tasker.queue_name(v_group.namespace), v_group.msg_ids);
    END LOOP;

    PERFORM tasker._advance_many(v_advance_from, v_actor);

    PERFORM tasker._set_actor(v_actor, 'all steps complete');
    UPDATE tasker.tasks t
    SET state = CASE WHEN EXISTS (SELECT 1 FROM tasker.workflow_steps s
                                  WHERE s.task_id = t.task_id AND s.state NOT IN ('complete', 'skipped'))
                     THEN 'error' ELSE 'complete' END,
        finished_at = clock_timestamp(), updated_at = now()
    WHERE t.task_id = ANY (v_fast_tasks) AND t.state IS NOT DISTINCT FROM 'in_progress'
      AND NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s
                      WHERE s.task_id = t.task_id
                        AND s.state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry')
                      OFFSET 0);

    -- A step's "enqueued" counts its direct successors that this transaction enqueued.
    RETURN QUERY
    SELECT array_position(v_ids, s.step_id) - 1, s.step_id, true, NULL::text, 'complete'::text, t.state, NULL::timestamptz,
           (SELECT count(*)::int FROM tasker.workflow_step_edges e
            JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
            WHERE e.from_step_id = s.step_id AND c.state IS NOT DISTINCT FROM 'enqueued'
              AND c.enqueued_at = now())
    FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
    WHERE s.step_id = ANY (v_fast);
  END IF;

  FOR v_report IN
    SELECT r.value AS body, tasker._message_uuid(r.value, 'step_id') AS id, r.ordinality
    FROM jsonb_array_elements(p_reports) WITH ORDINALITY r
    LEFT JOIN tasker.workflow_steps s
      ON s.step_id = tasker._message_uuid(r.value, 'step_id') AND s.step_id = ANY (v_ids)
    WHERE NOT (r.ordinality = ANY (
      SELECT min(f.ord) FROM unnest(v_ids) WITH ORDINALITY AS f(step_id, ord)
      WHERE f.step_id = ANY (coalesce(v_fast, '{}')) GROUP BY f.step_id))
    ORDER BY s.task_id NULLS LAST, r.ordinality
  LOOP
    RETURN QUERY
    SELECT (v_report.ordinality - 1)::int, v_report.id, r.accepted, r.reason, r.step_state, r.task_state,
           r.next_retry_at, r.enqueued
    FROM tasker.report_step(
      v_report.id,
      tasker._message_int(v_report.body, 'attempt'),
      tasker._message_int(v_report.body, 'delivery'),
      v_report.body ->> 'outcome',
      v_report.body -> 'result',
      v_report.body -> 'error',
      tasker._message_int(v_report.body, 'retry_after_ms'),
      CASE WHEN jsonb_typeof(v_report.body -> 'activate') = 'array'
           THEN ARRAY(SELECT jsonb_array_elements_text(v_report.body -> 'activate')) END,
      p_worker_id,
      v_report.body -> 'batch') r;
  END LOOP;
END
$$;

-- tasker._advance_many: 0008's contract and body; the successors are reached by key (edges, then
-- primary keys), their state and their task's tested after.
CREATE OR REPLACE FUNCTION tasker._advance_many(p_step_ids uuid[], p_actor text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_frontier uuid[] := p_step_ids;
  v_ready uuid[];
  v_skip uuid[];
  v_enqueued int := 0;
BEGIN
  WHILE v_frontier IS NOT NULL LOOP
    WITH candidates AS (
      SELECT DISTINCT s.step_id
      FROM tasker.workflow_step_edges e
      JOIN tasker.workflow_steps s ON s.step_id = e.to_step_id
      JOIN tasker.tasks t ON t.task_id = s.task_id
      WHERE e.from_step_id = ANY (v_frontier) AND s.state IS NOT DISTINCT FROM 'pending'
        AND t.state IS NOT DISTINCT FROM 'in_progress'
    ),
    judged AS (
      SELECT c.step_id,
             bool_and(p.state IN ('complete', 'skipped')) AS parents_done,
             bool_or(p.state = 'complete') AS any_complete
      FROM candidates c
      JOIN tasker.workflow_step_edges e ON e.to_step_id = c.step_id
      JOIN tasker.workflow_steps p ON p.step_id = e.from_step_id
      GROUP BY c.step_id
    )
    SELECT array_agg(j.step_id) FILTER (WHERE j.parents_done AND j.any_complete),
           array_agg(j.step_id) FILTER (WHERE j.parents_done AND NOT j.any_complete)
    INTO v_ready, v_skip
    FROM judged j;

    IF v_ready IS NOT NULL THEN
      PERFORM tasker._set_actor(p_actor, 'dependencies complete');
      v_enqueued := v_enqueued + tasker._enqueue_steps_many(v_ready);
    END IF;
    IF v_skip IS NOT NULL THEN
      PERFORM tasker._set_actor(p_actor, 'every dependency was skipped');
      UPDATE tasker.workflow_steps s
      SET state = 'skipped', finished_at = clock_timestamp(), updated_at = now()
      WHERE s.step_id = ANY (v_skip);
    END IF;
    v_frontier := v_skip;
  END LOOP;
  RETURN v_enqueued;
END
$$;

-- tasker._advance: 0008's contract and body; a decision's unchosen successors are reached by key.
CREATE OR REPLACE FUNCTION tasker._advance(
  p_task_id uuid, p_namespace text, p_step_id uuid, p_activate text[], p_actor text
) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_frontier uuid[] := ARRAY[p_step_id];
  v_chosen_against uuid[];
BEGIN
  IF p_activate IS NOT NULL THEN
    PERFORM tasker._set_actor(p_actor, 'branch not chosen by decision step');
    WITH skipped AS (
      UPDATE tasker.workflow_steps s
      SET state = 'skipped', finished_at = clock_timestamp(), updated_at = now()
      FROM tasker.workflow_step_edges e
      WHERE e.from_step_id = p_step_id AND s.step_id = e.to_step_id
        AND s.state IS NOT DISTINCT FROM 'pending' AND NOT (s.name = ANY (p_activate))
      RETURNING s.step_id
    )
    SELECT array_agg(k.step_id) INTO v_chosen_against FROM skipped k;
    v_frontier := v_frontier || coalesce(v_chosen_against, '{}');
  END IF;
  RETURN tasker._advance_many(v_frontier, p_actor);
END
$$;

-- tasker._enqueue_steps_many: 0014's contract and body; the given steps are reached by id, and
-- updated by id: not by a join with unnest(), which a plan cached while the table was small runs
-- as a hash join over the whole primary key.
CREATE OR REPLACE FUNCTION tasker._enqueue_steps_many(p_step_ids uuid[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_ids uuid[] := '{}';
  v_msgs bigint[] := '{}';
  v_group record;
  v_sent_ids uuid[];
  v_sent_msgs bigint[];
  v_count int;
  v_left int := coalesce(nullif(current_setting('tasker.direct_claim_left', true), '')::int, 0);
  v_lease int := 0;
  v_taken int;
BEGIN
  IF p_step_ids IS NULL THEN
    RETURN 0;
  END IF;
  IF v_left > 0 THEN
    v_lease := current_setting('tasker.direct_claim_lease')::int;
  END IF;
  FOR v_group IN
    SELECT n.name AS namespace, array_agg(s.step_id ORDER BY s.step_id) AS step_ids,
           array_agg(s.task_id ORDER BY s.step_id) AS task_ids,
           array_agg(s.attempt ORDER BY s.step_id) AS attempts
    FROM tasker.workflow_steps s
    JOIN tasker.tasks t ON t.task_id = s.task_id
    JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
    WHERE s.step_id = ANY (p_step_ids) AND s.state IS NOT DISTINCT FROM 'pending'
    GROUP BY n.name
  LOOP
    v_taken := least(v_left, cardinality(v_group.step_ids));
    -- One pgmq.send per step, in step order (the lateral call runs once per row, in row order).
    SELECT array_agg(x.step_id ORDER BY x.ord), array_agg(m.msg_id ORDER BY x.ord)
    INTO v_sent_ids, v_sent_msgs
    FROM unnest(v_group.step_ids, v_group.task_ids, v_group.attempts) WITH ORDINALITY AS x(step_id, task_id, attempt, ord)
    CROSS JOIN LATERAL pgmq.send(tasker.queue_name(v_group.namespace),
                                 tasker._step_message(x.task_id, x.step_id, x.attempt),
                                 CASE WHEN x.ord <= v_taken THEN v_lease ELSE 0 END) AS m(msg_id);
    v_ids := v_ids || v_sent_ids;
    v_msgs := v_msgs || v_sent_msgs;
    IF v_taken > 0 THEN
      v_left := v_left - v_taken;
      PERFORM set_config('tasker.direct_claim_left', v_left::text, true),
              set_config('tasker.direct_claimed',
                         (coalesce(nullif(current_setting('tasker.direct_claimed', true), ''), '{}')::uuid[]
                          || v_sent_ids[1:v_taken])::text, true);
    END IF;
    PERFORM tasker._notify_queue(v_group.namespace, v_sent_ids);
  END LOOP;
  IF cardinality(v_ids) = 0 THEN
    RETURN 0;
  END IF;

  UPDATE tasker.workflow_steps w
  SET state = 'enqueued', msg_id = v_msgs[array_position(v_ids, w.step_id)],
      enqueued_at = now(), updated_at = now()
  WHERE w.step_id = ANY (v_ids);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

-- tasker.extend_leases: 0011's contract and body; the leased steps are reached by id.
CREATE OR REPLACE FUNCTION tasker.extend_leases(
  p_step_ids uuid[], p_attempts int[], p_deliveries int[], p_lease_seconds int DEFAULT 30
) RETURNS TABLE (step_id uuid, extended boolean, abort boolean, lease_expires_at timestamptz, task_state text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_row record;
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds < 1 OR p_lease_seconds > 86400 THEN
    RAISE EXCEPTION 'invalid lease %: must be from 1 to 86400 seconds', p_lease_seconds
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'lease_seconds')::text;
  END IF;
  IF cardinality(p_step_ids) IS DISTINCT FROM cardinality(p_attempts)
     OR cardinality(p_step_ids) IS DISTINCT FROM cardinality(p_deliveries) THEN
    RAISE EXCEPTION 'invalid leases: step_ids, attempts and deliveries must have the same length'
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'step_ids')::text;
  END IF;

  -- Lock the rows in step_id order first, the order report_steps locks them in: updating them
  -- in whatever order the plan picks deadlocked against concurrent reports (40P01).
  PERFORM 1 FROM tasker.workflow_steps s
  WHERE s.step_id = ANY (p_step_ids)
  ORDER BY s.step_id
  FOR NO KEY UPDATE OF s;

  FOR v_row IN
    WITH extended AS (
      UPDATE tasker.workflow_steps s
      SET lease_expires_at = now() + make_interval(secs => p_lease_seconds), updated_at = now()
      WHERE s.step_id = ANY (p_step_ids) AND s.state IS NOT DISTINCT FROM 'in_progress'
        AND (s.step_id, s.attempt, s.deliveries) IN (
          SELECT * FROM unnest(p_step_ids, p_attempts, p_deliveries))
      RETURNING s.step_id, s.attempt, s.deliveries, s.msg_id, s.lease_expires_at
    ),
    current AS (
      SELECT s.step_id, t.state AS task_state, n.name AS namespace
      FROM tasker.workflow_steps s
      JOIN tasker.tasks t ON t.task_id = s.task_id
      JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
      WHERE s.step_id = ANY (p_step_ids)
    )
    SELECT a.step_id, x.msg_id, x.lease_expires_at, c.task_state, c.namespace
    FROM unnest(p_step_ids, p_attempts, p_deliveries) WITH ORDINALITY AS a(step_id, attempt, delivery, ord)
    LEFT JOIN extended x
      ON x.step_id = a.step_id AND x.attempt = a.attempt AND x.deliveries = a.delivery
    LEFT JOIN current c ON c.step_id = a.step_id
    ORDER BY a.ord
  LOOP
    IF v_row.msg_id IS NOT NULL THEN
      PERFORM pgmq.set_vt(tasker.queue_name(v_row.namespace), v_row.msg_id, v_row.lease_expires_at);
    END IF;
    step_id := v_row.step_id;
    extended := v_row.lease_expires_at IS NOT NULL;
    abort := v_row.lease_expires_at IS NULL OR v_row.task_state IS DISTINCT FROM 'in_progress';
    lease_expires_at := v_row.lease_expires_at;
    task_state := v_row.task_state;
    RETURN NEXT;
  END LOOP;
END
$$;

-- tasker.release_leases: 0008's contract and body; the leased steps are reached by id.

CREATE OR REPLACE FUNCTION tasker.release_leases(
  p_step_ids uuid[], p_attempts int[], p_deliveries int[], p_worker_id text DEFAULT NULL
) RETURNS TABLE (step_id uuid, released boolean)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_row record;
BEGIN
  IF cardinality(p_step_ids) IS DISTINCT FROM cardinality(p_attempts)
     OR cardinality(p_step_ids) IS DISTINCT FROM cardinality(p_deliveries) THEN
    RAISE EXCEPTION 'invalid leases: step_ids, attempts and deliveries must have the same length'
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'step_ids')::text;
  END IF;
  PERFORM tasker._set_actor(coalesce(p_worker_id, 'worker'), 'lease released unused');
  FOR v_row IN
    WITH released AS (
      UPDATE tasker.workflow_steps s
      SET state = 'enqueued', lease_expires_at = NULL, claimed_by = NULL, updated_at = now()
      WHERE s.step_id = ANY (p_step_ids) AND s.state IS NOT DISTINCT FROM 'in_progress'
        AND (s.step_id, s.attempt, s.deliveries) IN (
          SELECT * FROM unnest(p_step_ids, p_attempts, p_deliveries))
      RETURNING s.step_id, s.attempt, s.deliveries, s.msg_id, s.task_id
    )
    SELECT a.step_id, r.msg_id, r.step_id IS NOT NULL AS released, n.name AS namespace
    FROM unnest(p_step_ids, p_attempts, p_deliveries) WITH ORDINALITY AS a(step_id, attempt, delivery, ord)
    LEFT JOIN released r ON r.step_id = a.step_id AND r.attempt = a.attempt AND r.deliveries = a.delivery
    LEFT JOIN tasker.tasks t ON t.task_id = r.task_id
    LEFT JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
    ORDER BY a.ord
  LOOP
    IF v_row.released THEN
      PERFORM pgmq.set_vt(tasker.queue_name(v_row.namespace), v_row.msg_id, clock_timestamp());
    END IF;
    step_id := v_row.step_id;
    released := v_row.released;
    RETURN NEXT;
  END LOOP;
END
$$;

-- tasker.report_and_claim: 0014's contract and body; the steps sent leased are reached by id.
CREATE OR REPLACE FUNCTION tasker.report_and_claim(
  p_reports jsonb,
  p_worker_id text,
  p_claim_max int,
  p_lease_seconds int DEFAULT 30
) RETURNS TABLE (
  kind text, report_index int, step_id uuid, accepted boolean, reason text, step_state text,
  task_state text, next_retry_at timestamptz, enqueued int, claim jsonb
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_max int := coalesce(p_claim_max, 0);
  v_left int;
  v_row record;
  v_held jsonb;
  v_direct uuid[];
  v_namespace text;
  v_enqueued uuid[];
  v_claimed uuid[] := '{}';
  v_count int;
BEGIN
  IF v_max < 0 OR v_max > 1000 THEN
    RAISE EXCEPTION 'invalid claim size %: must be from 0 to 1000', p_claim_max
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'claim_max')::text;
  END IF;
  IF v_max > 0 AND (p_lease_seconds IS NULL OR p_lease_seconds < 1 OR p_lease_seconds > 86400) THEN
    RAISE EXCEPTION 'invalid lease %: must be from 1 to 86400 seconds', p_lease_seconds
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'lease_seconds')::text;
  END IF;

  PERFORM set_config('tasker.hold_queue_notify', 'on', true),
          set_config('tasker.held_queue_notify', '{}', true),
          set_config('tasker.direct_claim_left', v_max::text, true),
          set_config('tasker.direct_claim_lease', coalesce(p_lease_seconds, 0)::text, true),
          set_config('tasker.direct_claimed', '{}', true);
  FOR v_row IN SELECT * FROM tasker.report_steps(p_reports, p_worker_id) r LOOP
    kind := 'report'; report_index := v_row.report_index; step_id := v_row.step_id;
    accepted := v_row.accepted; reason := v_row.reason; step_state := v_row.step_state;
    task_state := v_row.task_state; next_retry_at := v_row.next_retry_at;
    enqueued := v_row.enqueued; claim := NULL;
    RETURN NEXT;
  END LOOP;
  v_held := coalesce(nullif(current_setting('tasker.held_queue_notify', true), ''), '{}')::jsonb;
  v_direct := coalesce(nullif(current_setting('tasker.direct_claimed', true), ''), '{}')::uuid[];
  PERFORM set_config('tasker.hold_queue_notify', 'off', true),
          set_config('tasker.held_queue_notify', '{}', true),
          set_config('tasker.direct_claim_left', '0', true),
          set_config('tasker.direct_claimed', '{}', true);

  report_index := NULL; step_id := NULL; accepted := NULL; reason := NULL; step_state := NULL;
  task_state := NULL; next_retry_at := NULL; enqueued := NULL;

  -- A step sent leased is still claimable only if nothing later in the reports moved it or its
  -- task on (a permanent failure cancels the task's open steps).
  IF cardinality(v_direct) > 0 THEN
    FOR claim IN
      SELECT to_jsonb(c)
      FROM tasker._lease_steps(ARRAY(
             SELECT s.step_id FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
             WHERE s.step_id = ANY (v_direct) AND s.state IS NOT DISTINCT FROM 'enqueued'
               AND t.state IS NOT DISTINCT FROM 'in_progress'),
           p_lease_seconds, p_worker_id) c
    LOOP
      kind := 'claimed';
      v_claimed := v_claimed || (claim ->> 'step_id')::uuid;
      RETURN NEXT;
    END LOOP;
  END IF;
  v_left := v_max - cardinality(v_claimed);

  FOR v_namespace, v_enqueued IN
    SELECT h.key, ARRAY(SELECT jsonb_array_elements_text(h.value)::uuid)
    FROM jsonb_each(v_held) h ORDER BY h.key
  LOOP
    IF v_left > 0 THEN
      v_count := 0;
      FOR kind, claim IN
        SELECT c.outcome, to_jsonb(c)
        FROM tasker.claim_steps(v_namespace, v_left, p_lease_seconds, p_worker_id) c
      LOOP
        IF kind = 'claimed' THEN
          v_claimed := v_claimed || (claim ->> 'step_id')::uuid;
          v_count := v_count + 1;
        END IF;
        RETURN NEXT;
      END LOOP;
      v_left := v_left - v_count;
    END IF;
    IF NOT (v_enqueued <@ v_claimed) THEN
      PERFORM pg_notify('tasker_queue_' || v_namespace, '0');
    END IF;
  END LOOP;
END
$$;
