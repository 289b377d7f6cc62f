-- 0008: index-friendly plans on the hot path.
--
-- The first versions of these functions joined large tables against set-returning functions,
-- unnest() and trigger transition tables. The planner has no statistics for those and assumes
-- 100-1000 rows, so it chose hash joins over sequential scans of workflow_steps and the
-- transition logs: every claim, report and task creation cost time proportional to the size of
-- the tables (20,000 finished tasks made one create_task take ~20 ms). These replacements
-- collect ids into arrays first and reach the big tables only through `= ANY(array)`, which the
-- planner answers with index scans. Behaviour and guarantees are unchanged: the comments of the
-- original functions (0001, 0003-0007) still describe them.

-- Triggers: the rows whose state (or lease) changed, as arrays, then index lookups.
CREATE OR REPLACE FUNCTION tasker._log_task_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_bad record;
  v_changed uuid[];
  v_done record;
BEGIN
  SELECT o.task_id, o.state AS from_state, n.state AS to_state INTO v_bad
  FROM old_rows o JOIN new_rows n USING (task_id)
  WHERE o.state <> n.state
    AND NOT EXISTS (SELECT 1 FROM tasker.task_state_machine m
                    WHERE m.from_state = o.state AND m.to_state = n.state)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'illegal task transition % -> % for task %',
      v_bad.from_state, v_bad.to_state, v_bad.task_id
      USING ERRCODE = 'TK100';
  END IF;

  SELECT array_agg(n.task_id) INTO v_changed
  FROM old_rows o JOIN new_rows n USING (task_id)
  WHERE o.state <> n.state;
  IF v_changed IS NULL THEN
    RETURN NULL;
  END IF;

  UPDATE tasker.task_transitions t SET most_recent = false
  WHERE t.task_id = ANY (v_changed) AND t.most_recent;

  INSERT INTO tasker.task_transitions (task_id, from_state, to_state, actor, reason)
  SELECT n.task_id, o.state, n.state, tasker._actor(), tasker._reason()
  FROM old_rows o JOIN new_rows n USING (task_id)
  WHERE o.state <> n.state;

  FOR v_done IN
    SELECT n.task_id, n.state FROM old_rows o JOIN new_rows n USING (task_id)
    WHERE o.state <> n.state AND n.state IN ('complete', 'error', 'cancelled')
  LOOP
    PERFORM pg_notify('tasker_task_state',
      json_build_object('task_id', v_done.task_id, 'state', v_done.state)::text);
  END LOOP;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION tasker._log_step_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_bad record;
  v_changed uuid[];
BEGIN
  SELECT o.step_id, o.state AS from_state, n.state AS to_state INTO v_bad
  FROM old_rows o JOIN new_rows n USING (step_id)
  WHERE (o.state <> n.state OR o.deliveries <> n.deliveries OR o.attempt <> n.attempt)
    AND NOT EXISTS (SELECT 1 FROM tasker.step_state_machine m
                    WHERE m.from_state = o.state AND m.to_state = n.state)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'illegal step transition % -> % for step %',
      v_bad.from_state, v_bad.to_state, v_bad.step_id
      USING ERRCODE = 'TK100';
  END IF;

  SELECT array_agg(n.step_id) INTO v_changed
  FROM old_rows o JOIN new_rows n USING (step_id)
  WHERE o.state <> n.state OR o.deliveries <> n.deliveries OR o.attempt <> n.attempt;
  IF v_changed IS NULL THEN
    RETURN NULL;
  END IF;

  UPDATE tasker.step_transitions t SET most_recent = false
  WHERE t.step_id = ANY (v_changed) AND t.most_recent;

  INSERT INTO tasker.step_transitions
    (step_id, task_id, from_state, to_state, attempt, delivery, actor, reason)
  SELECT n.step_id, n.task_id, o.state, n.state, n.attempt, n.deliveries, tasker._actor(), tasker._reason()
  FROM old_rows o JOIN new_rows n USING (step_id)
  WHERE o.state <> n.state OR o.deliveries <> n.deliveries OR o.attempt <> n.attempt;
  RETURN NULL;
END
$$;

-- tasker._enqueue_steps_many: moves the given pending steps (of any tasks) to enqueued and sends
-- one message per step for its current attempt, waking each namespace once. Steps not pending
-- are left alone. Returns how many were enqueued. The caller holds the locks of their tasks.
CREATE FUNCTION tasker._enqueue_steps_many(p_step_ids uuid[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_ids uuid[];
  v_msgs bigint[] := '{}';
  v_group record;
  v_index int;
  v_msg bigint;
  v_count int;
BEGIN
  IF p_step_ids IS NULL THEN
    RETURN 0;
  END IF;
  FOR v_group IN
    SELECT n.name AS namespace, array_agg(s.step_id ORDER BY s.step_id) AS step_ids,
           array_agg(s.task_id ORDER BY s.step_id) AS task_ids,
           array_agg(s.attempt ORDER BY s.step_id) AS attempts
    FROM tasker.workflow_steps s
    JOIN tasker.tasks t ON t.task_id = s.task_id
    JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
    WHERE s.step_id = ANY (p_step_ids) AND s.state = 'pending'
    GROUP BY n.name
  LOOP
    FOR v_index IN 1 .. cardinality(v_group.step_ids) LOOP
      SELECT m INTO v_msg FROM pgmq.send(tasker.queue_name(v_group.namespace),
        tasker._step_message(v_group.task_ids[v_index], v_group.step_ids[v_index], v_group.attempts[v_index])) m;
      v_msgs := v_msgs || v_msg;
    END LOOP;
    v_ids := coalesce(v_ids, '{}') || v_group.step_ids;
    PERFORM pg_notify('tasker_queue_' || v_group.namespace, '0');
  END LOOP;
  IF v_ids IS NULL THEN
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

-- _enqueue_steps keeps its contract (0003) and delegates, so there is one way to enqueue.
CREATE OR REPLACE FUNCTION tasker._enqueue_steps(p_task_id uuid, p_namespace text, p_step_ids uuid[]) RETURNS int
LANGUAGE sql AS $$
  SELECT tasker._enqueue_steps_many(ARRAY(
    SELECT s.step_id FROM tasker.workflow_steps s
    WHERE s.step_id = ANY (p_step_ids) AND s.task_id = p_task_id));
$$;

-- tasker._advance_many: _advance (0005) for many completed steps at once, of running tasks,
-- without decisions: enqueues every pending successor whose dependencies are all complete or
-- skipped (at least one complete), skips those whose dependencies were all skipped, and repeats
-- down skipped branches. Returns how many steps were enqueued. The caller holds the task locks.
CREATE FUNCTION tasker._advance_many(p_step_ids uuid[], p_actor text) RETURNS int
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
      WHERE e.from_step_id = ANY (v_frontier) AND s.state = 'pending' AND t.state = 'in_progress'
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

-- _advance keeps its contract (0005); without a decision it is _advance_many of one step.
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
        AND s.state = 'pending' AND NOT (s.name = ANY (p_activate))
      RETURNING s.step_id
    )
    SELECT array_agg(k.step_id) INTO v_chosen_against FROM skipped k;
    v_frontier := v_frontier || coalesce(v_chosen_against, '{}');
  END IF;
  RETURN tasker._advance_many(v_frontier, p_actor);
END
$$;

-- claim_steps: messages read into arrays first, steps locked by primary key.
CREATE OR REPLACE FUNCTION tasker.claim_steps(
  p_namespace text,
  p_batch_size int DEFAULT 10,
  p_lease_seconds int DEFAULT 30,
  p_worker_id text DEFAULT NULL
) RETURNS TABLE (
  outcome            text,
  reason             text,
  msg_id             bigint,
  task_id            uuid,
  step_id            uuid,
  step_name          text,
  handler            text,
  step_type          text,
  attempt            int,
  max_attempts       int,
  delivery           int,
  timeout_ms         int,
  lease_expires_at   timestamptz,
  namespace          text,
  task_name          text,
  task_version       text,
  correlation_id     text,
  context            jsonb,
  inputs             jsonb,
  dependency_results jsonb,
  successors         text[]
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_queue text := tasker.queue_name(p_namespace);
  v_msg_ids bigint[];
  v_msg_steps uuid[];
  v_msg_attempts int[];
  v_claim_steps uuid[];
  v_discard_msgs bigint[];
  v_discard_reasons text[];
  v_defer_msgs bigint[];
  v_defer_reasons text[];
  v_defer_until timestamptz[];
  v_index int;
BEGIN
  IF p_batch_size IS NULL OR p_batch_size < 1 OR p_batch_size > 1000 THEN
    RAISE EXCEPTION 'invalid batch size %: must be from 1 to 1000', p_batch_size
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'batch_size')::text;
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds < 1 OR p_lease_seconds > 86400 THEN
    RAISE EXCEPTION 'invalid lease %: must be from 1 to 86400 seconds', p_lease_seconds
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'lease_seconds')::text;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM tasker.namespaces n WHERE n.name = p_namespace) THEN
    RAISE EXCEPTION 'unknown namespace "%": register a template in it first', p_namespace
      USING ERRCODE = 'TK006', DETAIL = json_build_object('field', 'namespace', 'value', p_namespace)::text;
  END IF;

  SELECT array_agg(m.msg_id ORDER BY m.msg_id),
         array_agg(tasker._message_uuid(m.message, 'step_id') ORDER BY m.msg_id),
         array_agg(tasker._message_int(m.message, 'attempt') ORDER BY m.msg_id)
  INTO v_msg_ids, v_msg_steps, v_msg_attempts
  FROM pgmq.read(v_queue, p_lease_seconds, p_batch_size) m;
  IF v_msg_ids IS NULL THEN
    RETURN;
  END IF;

  WITH msgs AS (
    SELECT * FROM unnest(v_msg_ids, v_msg_steps, v_msg_attempts) AS m(msg_id, step_id, attempt)
  ),
  locked AS (
    SELECT s.step_id, s.state, s.attempt, s.deliveries, s.max_deliveries, s.lease_expires_at,
           s.msg_id, t.state AS task_state
    FROM tasker.workflow_steps s
    JOIN tasker.tasks t ON t.task_id = s.task_id
    WHERE s.step_id = ANY (v_msg_steps)
    FOR NO KEY UPDATE OF s SKIP LOCKED
  ),
  decided AS (
    SELECT m.msg_id, m.step_id, l.lease_expires_at,
      CASE
        WHEN m.step_id IS NULL OR m.attempt IS NULL THEN 'discard:malformed message'
        WHEN l.step_id IS NULL AND NOT EXISTS (
          SELECT 1 FROM tasker.workflow_steps x WHERE x.step_id = m.step_id) THEN 'discard:unknown step'
        WHEN l.step_id IS NULL THEN 'defer:step is being changed by another transaction'
        WHEN m.attempt <> l.attempt THEN format('discard:stale attempt %s (current is %s)', m.attempt, l.attempt)
        WHEN m.msg_id IS DISTINCT FROM l.msg_id THEN 'discard:duplicate message'
        WHEN l.state IN ('enqueued', 'waiting_for_retry') THEN 'claim'
        WHEN l.state = 'in_progress' AND l.lease_expires_at > now() THEN 'defer:lease still held'
        WHEN l.state = 'in_progress' AND l.task_state <> 'in_progress'
          THEN 'discard:task is ' || l.task_state || '; the sweeper will close the step'
        WHEN l.state = 'in_progress' AND l.deliveries >= l.max_deliveries
          THEN 'defer:delivery limit reached; the sweeper will fail the step'
        WHEN l.state = 'in_progress' THEN 'claim'
        ELSE 'discard:step is ' || l.state
      END AS verdict
    FROM msgs m LEFT JOIN locked l ON l.step_id = m.step_id
  )
  SELECT
    array_agg(d.step_id ORDER BY d.msg_id) FILTER (WHERE d.verdict = 'claim'),
    array_agg(d.msg_id) FILTER (WHERE d.verdict LIKE 'discard:%'),
    array_agg(substr(d.verdict, 9)) FILTER (WHERE d.verdict LIKE 'discard:%'),
    array_agg(d.msg_id) FILTER (WHERE d.verdict LIKE 'defer:%'),
    array_agg(substr(d.verdict, 7)) FILTER (WHERE d.verdict LIKE 'defer:%'),
    array_agg(CASE d.verdict
                WHEN 'defer:lease still held' THEN d.lease_expires_at
                WHEN 'defer:step is being changed by another transaction'
                  THEN clock_timestamp() + interval '1 second'
                ELSE clock_timestamp() + make_interval(secs => p_lease_seconds) END)
      FILTER (WHERE d.verdict LIKE 'defer:%')
  INTO v_claim_steps, v_discard_msgs, v_discard_reasons,
       v_defer_msgs, v_defer_reasons, v_defer_until
  FROM decided d;

  IF v_claim_steps IS NOT NULL THEN
    PERFORM tasker._set_actor(coalesce(p_worker_id, 'worker'), 'claimed');
    UPDATE tasker.workflow_steps s
    SET state = 'in_progress',
        deliveries = s.deliveries + 1,
        lease_expires_at = now() + make_interval(secs => p_lease_seconds),
        claimed_by = p_worker_id,
        started_at = CASE WHEN s.state = 'in_progress' THEN s.started_at ELSE clock_timestamp() END,
        updated_at = now()
    WHERE s.step_id = ANY (v_claim_steps);
  END IF;

  IF v_discard_msgs IS NOT NULL THEN
    PERFORM pgmq.archive(v_queue, v_discard_msgs);
  END IF;

  FOR v_index IN 1 .. coalesce(cardinality(v_defer_msgs), 0) LOOP
    PERFORM pgmq.set_vt(v_queue, v_defer_msgs[v_index], v_defer_until[v_index]);
  END LOOP;

  -- Claimed steps come back in queue (FIFO) order.
  RETURN QUERY
  (SELECT 'claimed'::text, NULL::text, s.msg_id, s.task_id, s.step_id, s.name, s.handler, s.step_type,
          s.attempt, s.max_attempts, s.deliveries, s.timeout_ms, s.lease_expires_at,
          p_namespace, nt.name, nt.version, t.correlation_id, t.context, s.inputs,
          coalesce((SELECT jsonb_object_agg(p.name, p.results)
                    FROM tasker.workflow_step_edges e
                    JOIN tasker.workflow_steps p ON p.step_id = e.from_step_id
                    WHERE e.to_step_id = s.step_id AND p.state = 'complete'), '{}'::jsonb),
          coalesce((SELECT array_agg(c.name ORDER BY c.name)
                    FROM tasker.workflow_step_edges e
                    JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
                    WHERE e.from_step_id = s.step_id), '{}'::text[])
   FROM tasker.workflow_steps s
   JOIN tasker.tasks t ON t.task_id = s.task_id
   JOIN tasker.named_tasks nt ON nt.named_task_id = t.named_task_id
   WHERE s.step_id = ANY (v_claim_steps)
   ORDER BY s.msg_id)
  UNION ALL
  SELECT 'discarded', r.reason, r.msg_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         p_namespace, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM unnest(v_discard_msgs, v_discard_reasons) AS r(msg_id, reason)
  UNION ALL
  SELECT 'deferred', r.reason, r.msg_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         p_namespace, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM unnest(v_defer_msgs, v_defer_reasons) AS r(msg_id, reason);
END
$$;

-- report_steps: the contract of 0005, applied set-wise, and each result now names the position
-- of its report in the input (report_index, 0-based), so a step reported twice in one batch
-- gets two distinguishable results. Every task named by the batch is locked
-- first, in task order (so batches sharing tasks cannot deadlock). Plain successes (outcome
-- success, no decision, lease still held) are then completed together: one UPDATE, one PGMQ
-- delete per namespace, one pass over their successors and one finalization of their tasks.
-- Everything else (failures, retries, decisions, rejections, repeated steps) goes through
-- report_step one by one, in task order, exactly as before.
DROP FUNCTION tasker.report_steps(jsonb, text);
CREATE FUNCTION tasker.report_steps(p_reports jsonb, p_worker_id text DEFAULT NULL)
RETURNS TABLE (
  report_index int, step_id uuid, accepted boolean, reason text, step_state text, task_state text,
  next_retry_at timestamptz, enqueued int
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_actor text := coalesce(p_worker_id, 'worker');
  v_bad bigint;
  v_ids uuid[];
  v_attempts int[];
  v_deliveries int[];
  v_outcomes text[];
  v_results jsonb[];
  v_decides boolean[];
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

  SELECT array_agg(tasker._message_uuid(r.value, 'step_id') ORDER BY r.ordinality),
         array_agg(tasker._message_int(r.value, 'attempt') ORDER BY r.ordinality),
         array_agg(tasker._message_int(r.value, 'delivery') ORDER BY r.ordinality),
         array_agg(r.value ->> 'outcome' ORDER BY r.ordinality),
         array_agg(r.value -> 'result' ORDER BY r.ordinality),
         array_agg(r.value ? 'activate' AND r.value -> 'activate' <> 'null'::jsonb ORDER BY r.ordinality)
  INTO v_ids, v_attempts, v_deliveries, v_outcomes, v_results, v_decides
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
    FROM unnest(v_ids, v_attempts, v_deliveries, v_outcomes, v_decides) WITH ORDINALITY
      AS a(step_id, attempt, delivery, outcome, decides, ord)
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
  WHERE a.outcome = 'success' AND NOT a.decides AND h.step_type <> 'decision'
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
    WHERE t.task_id = ANY (v_fast_tasks) AND t.state = 'in_progress'
      AND NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s
                      WHERE s.task_id = t.task_id
                        AND s.state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry'));

    -- A step's "enqueued" counts its direct successors that this transaction enqueued.
    RETURN QUERY
    SELECT array_position(v_ids, s.step_id) - 1, s.step_id, true, NULL::text, 'complete'::text, t.state, NULL::timestamptz,
           (SELECT count(*)::int FROM tasker.workflow_step_edges e
            JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
            WHERE e.from_step_id = s.step_id AND c.state = 'enqueued' AND c.enqueued_at = now())
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
      p_worker_id) r;
  END LOOP;
END
$$;

-- extend_leases and release_leases: steps reached by primary key, the ask matched in memory.
CREATE OR REPLACE FUNCTION tasker.extend_leases(
  p_step_ids uuid[], p_attempts int[], p_deliveries int[], p_lease_seconds int DEFAULT 30
) RETURNS TABLE (step_id uuid, extended boolean, abort boolean, lease_expires_at timestamptz, task_state text)
LANGUAGE plpgsql AS $$
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

  FOR v_row IN
    WITH extended AS (
      UPDATE tasker.workflow_steps s
      SET lease_expires_at = now() + make_interval(secs => p_lease_seconds), updated_at = now()
      WHERE s.step_id = ANY (p_step_ids) AND s.state = 'in_progress'
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

CREATE OR REPLACE FUNCTION tasker.release_leases(
  p_step_ids uuid[], p_attempts int[], p_deliveries int[], p_worker_id text DEFAULT NULL
) RETURNS TABLE (step_id uuid, released boolean)
LANGUAGE plpgsql AS $$
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
      WHERE s.step_id = ANY (p_step_ids) AND s.state = 'in_progress'
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
