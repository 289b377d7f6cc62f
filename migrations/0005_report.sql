-- 0005: reporting the outcome of a step, and everything a report sets in motion.

-- tasker.retry_delay_ms: the wait before retry number p_failed_attempt + 1. Exponential:
-- p_backoff_ms * 2^(p_failed_attempt - 1), plus up to 25% random jitter so retries of many steps
-- that failed together spread out, and never more than p_max_backoff_ms.
CREATE FUNCTION tasker.retry_delay_ms(p_failed_attempt int, p_backoff_ms int, p_max_backoff_ms int)
RETURNS bigint
LANGUAGE sql VOLATILE AS $$
  SELECT least(
    p_max_backoff_ms::double precision,
    p_backoff_ms * power(2::double precision, least(greatest(p_failed_attempt, 1) - 1, 60))
      * (1 + random() * 0.25)
  )::bigint;
$$;

-- tasker._cancel_open_steps: moves every step of the task that has not started (pending,
-- enqueued, waiting_for_retry) to cancelled and deletes their queue messages, so none of them can
-- run. Steps already in progress are left to finish; their reports are accepted but start
-- nothing. Returns how many steps were cancelled. The caller holds the task's lock.
CREATE FUNCTION tasker._cancel_open_steps(p_task_id uuid, p_namespace text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_msgs bigint[];
  v_count int;
BEGIN
  WITH cancelled AS (
    UPDATE tasker.workflow_steps s
    SET state = 'cancelled', finished_at = clock_timestamp(), updated_at = now()
    WHERE s.task_id = p_task_id AND s.state IN ('pending', 'enqueued', 'waiting_for_retry')
    RETURNING s.msg_id, s.state AS old_state
  )
  SELECT array_agg(c.msg_id) FILTER (WHERE c.msg_id IS NOT NULL), count(*)
  INTO v_msgs, v_count FROM cancelled c;
  IF v_msgs IS NOT NULL THEN
    PERFORM pgmq.delete(tasker.queue_name(p_namespace), v_msgs);
  END IF;
  RETURN v_count;
END
$$;

-- tasker._fail_task: moves an in_progress or pending task to error with p_reason and cancels its
-- open steps. No-op for a task already finished. The caller holds the task's lock.
CREATE FUNCTION tasker._fail_task(p_task_id uuid, p_namespace text, p_actor text, p_reason text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker._set_actor(p_actor, p_reason);
  PERFORM tasker._cancel_open_steps(p_task_id, p_namespace);
  UPDATE tasker.tasks t SET state = 'error', finished_at = clock_timestamp(), updated_at = now()
  WHERE t.task_id = p_task_id AND t.state IN ('pending', 'in_progress');
END
$$;

-- tasker._finalize_task: when no step of an in_progress task is left to run or running, moves
-- the task to complete (every step complete or skipped) or error (otherwise). Returns the task's
-- state afterwards. The caller holds the task's lock, so two reports cannot both miss the end.
CREATE FUNCTION tasker._finalize_task(p_task_id uuid, p_actor text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_state text;
  v_failed boolean;
BEGIN
  SELECT t.state INTO v_state FROM tasker.tasks t WHERE t.task_id = p_task_id;
  IF v_state <> 'in_progress' OR EXISTS (
    SELECT 1 FROM tasker.workflow_steps s
    WHERE s.task_id = p_task_id AND s.state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry')
  ) THEN
    RETURN v_state;
  END IF;
  v_failed := EXISTS (SELECT 1 FROM tasker.workflow_steps s
                      WHERE s.task_id = p_task_id AND s.state NOT IN ('complete', 'skipped'));
  PERFORM tasker._set_actor(p_actor, CASE WHEN v_failed THEN 'a step did not complete' ELSE 'all steps complete' END);
  UPDATE tasker.tasks t
  SET state = CASE WHEN v_failed THEN 'error' ELSE 'complete' END,
      finished_at = clock_timestamp(), updated_at = now()
  WHERE t.task_id = p_task_id
  RETURNING t.state INTO v_state;
  RETURN v_state;
END
$$;

-- tasker._advance: after p_step_id completed, decides its pending successors. When p_activate is
-- given (a decision step's choice) successors not named in it are skipped. Then, repeatedly: a
-- pending successor whose dependencies are all complete or skipped is enqueued if at least one of
-- them completed, and skipped if all were skipped (so skipping flows down a branch that was not
-- chosen, and a join after a decision still runs). Returns how many steps were enqueued. The
-- caller holds the task's lock, so of two parents finishing at once exactly one enqueues a join.
CREATE FUNCTION tasker._advance(
  p_task_id uuid, p_namespace text, p_step_id uuid, p_activate text[], p_actor text
) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_frontier uuid[] := ARRAY[p_step_id];
  v_ready uuid[];
  v_skip uuid[];
  v_chosen_against uuid[];
  v_enqueued int := 0;
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

  LOOP
    WITH candidates AS (
      SELECT DISTINCT s.step_id
      FROM tasker.workflow_step_edges e
      JOIN tasker.workflow_steps s ON s.step_id = e.to_step_id
      WHERE e.from_step_id = ANY (v_frontier) AND s.state = 'pending'
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
      v_enqueued := v_enqueued + tasker._enqueue_steps(p_task_id, p_namespace, v_ready);
    END IF;
    EXIT WHEN v_skip IS NULL;
    PERFORM tasker._set_actor(p_actor, 'every dependency was skipped');
    UPDATE tasker.workflow_steps s
    SET state = 'skipped', finished_at = clock_timestamp(), updated_at = now()
    WHERE s.step_id = ANY (v_skip);
    v_frontier := v_skip;
  END LOOP;
  RETURN v_enqueued;
END
$$;

-- tasker.report_step: records the outcome of one delivery of a step, in one transaction.
-- The report must name the lease it holds (attempt and delivery, as returned by claim_steps);
-- if the step is no longer in_progress under that lease (it finished, was cancelled, or its
-- lease expired and it was claimed again) the report is rejected (accepted = false, with the
-- reason) and nothing changes, so a step is never completed twice.
--   success            stores the result, completes the step, deletes its message, enqueues every
--                      successor whose dependencies are now done (decision steps name the
--                      successors to run in p_activate; the others are skipped), and completes
--                      the task when nothing is left;
--   retryable_failure  when the step is retryable, attempts remain and the task is running:
--                      stores the error, moves the step to waiting_for_retry with attempt + 1 and
--                      sends its next message with PGMQ's delayed send, visible after
--                      p_retry_after_ms or retry_delay_ms(); otherwise it is a permanent failure;
--   permanent_failure  stores the error, fails the step and (if running) the task, and cancels
--                      every step of the task that has not started.
-- A success that is not a valid decision (p_activate on a non-decision step, a decision step
-- without p_activate, or a name that is not a direct successor) is stored as a permanent failure
-- saying so. Reports for steps of a finished task are recorded but start nothing.
CREATE FUNCTION tasker.report_step(
  p_step_id uuid,
  p_attempt int,
  p_delivery int,
  p_outcome text,
  p_result jsonb DEFAULT NULL,
  p_error jsonb DEFAULT NULL,
  p_retry_after_ms int DEFAULT NULL,
  p_activate text[] DEFAULT NULL,
  p_worker_id text DEFAULT NULL
) RETURNS TABLE (
  accepted boolean, reason text, step_state text, task_state text,
  next_retry_at timestamptz, enqueued int
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_actor text := coalesce(p_worker_id, 'worker');
  v_task_id uuid;
  v_task_state text;
  v_namespace text;
  v_step tasker.workflow_steps%ROWTYPE;
  v_outcome text := p_outcome;
  v_error jsonb := p_error;
  v_successors text[];
  v_unknown text[];
  v_next timestamptz;
  v_new_msg bigint;
  v_enqueued int := 0;
  v_final_reason text;
BEGIN
  IF p_outcome IS NULL OR p_outcome NOT IN ('success', 'retryable_failure', 'permanent_failure') THEN
    RAISE EXCEPTION 'invalid outcome %: must be success, retryable_failure or permanent_failure',
      coalesce(quote_literal(p_outcome), 'NULL')
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'outcome')::text;
  END IF;
  IF p_retry_after_ms IS NOT NULL AND (p_retry_after_ms < 0 OR p_retry_after_ms > 86400000) THEN
    RAISE EXCEPTION 'invalid retry_after_ms %: must be from 0 to 86400000', p_retry_after_ms
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'retry_after_ms')::text;
  END IF;

  SELECT s.task_id INTO v_task_id FROM tasker.workflow_steps s WHERE s.step_id = p_step_id;
  IF v_task_id IS NULL THEN
    RETURN QUERY SELECT false, 'unknown step'::text, NULL::text, NULL::text, NULL::timestamptz, 0;
    RETURN;
  END IF;

  -- Lock order everywhere: task, then step, then queue message.
  SELECT t.state, n.name INTO v_task_state, v_namespace
  FROM tasker.tasks t JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  WHERE t.task_id = v_task_id
  FOR NO KEY UPDATE OF t;
  SELECT * INTO v_step FROM tasker.workflow_steps s WHERE s.step_id = p_step_id FOR NO KEY UPDATE;

  IF v_step.state <> 'in_progress' OR v_step.attempt <> p_attempt OR v_step.deliveries <> p_delivery THEN
    RETURN QUERY SELECT false,
      CASE
        WHEN v_step.state <> 'in_progress' THEN format('step is %s', v_step.state)
        WHEN v_step.attempt <> p_attempt THEN format('stale attempt %s (current is %s)', p_attempt, v_step.attempt)
        ELSE format('lease lost: the step was delivered again (delivery %s is current, report was for %s)',
                    v_step.deliveries, p_delivery)
      END,
      v_step.state, v_task_state, NULL::timestamptz, 0;
    RETURN;
  END IF;

  IF v_outcome = 'success' AND (p_activate IS NOT NULL OR v_step.step_type = 'decision') THEN
    SELECT array_agg(c.name ORDER BY c.name) INTO v_successors
    FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
    WHERE e.from_step_id = p_step_id;
    IF v_step.step_type <> 'decision' THEN
      v_outcome := 'permanent_failure';
      v_error := jsonb_build_object('kind', 'InvalidDecision', 'message',
        format('step "%s" is not a decision step; only decision steps choose branches', v_step.name));
    ELSIF p_activate IS NULL THEN
      v_outcome := 'permanent_failure';
      v_error := jsonb_build_object('kind', 'InvalidDecision', 'message',
        format('decision step "%s" did not choose its branches (an empty choice skips them all); its successors are: %s',
               v_step.name, coalesce(array_to_string(v_successors, ', '), 'none')));
    ELSE
      SELECT array_agg(a) INTO v_unknown FROM unnest(p_activate) a
      WHERE NOT (a = ANY (coalesce(v_successors, '{}')));
      IF v_unknown IS NOT NULL THEN
        v_outcome := 'permanent_failure';
        v_error := jsonb_build_object('kind', 'InvalidDecision', 'message',
          format('decision step "%s" chose %s, which %s not among its successors: %s',
                 v_step.name, array_to_string(v_unknown, ', '),
                 CASE WHEN cardinality(v_unknown) = 1 THEN 'is' ELSE 'are' END,
                 coalesce(array_to_string(v_successors, ', '), 'none')));
      END IF;
    END IF;
  END IF;

  IF v_outcome = 'success' THEN
    PERFORM tasker._set_actor(v_actor, 'handler succeeded');
    UPDATE tasker.workflow_steps s
    SET state = 'complete', results = p_result, finished_at = clock_timestamp(),
        lease_expires_at = NULL, updated_at = now()
    WHERE s.step_id = p_step_id;
    PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_step.msg_id);
    IF v_task_state = 'in_progress' THEN
      v_enqueued := tasker._advance(v_task_id, v_namespace, p_step_id, p_activate, v_actor);
      v_task_state := tasker._finalize_task(v_task_id, v_actor);
    END IF;
    RETURN QUERY SELECT true, NULL::text, 'complete'::text, v_task_state, NULL::timestamptz, v_enqueued;
    RETURN;
  END IF;

  IF v_outcome = 'retryable_failure' AND v_step.retryable AND v_step.attempt < v_step.max_attempts
     AND v_task_state = 'in_progress' THEN
    v_next := clock_timestamp() + make_interval(secs => coalesce(p_retry_after_ms,
                tasker.retry_delay_ms(v_step.attempt, v_step.backoff_ms, v_step.max_backoff_ms)) / 1000.0);
    PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_step.msg_id);
    SELECT sent.msg_id INTO v_new_msg
    FROM tasker._send_steps(v_namespace, v_task_id, ARRAY[p_step_id], ARRAY[v_step.attempt + 1], v_next) sent;
    PERFORM tasker._set_actor(v_actor, format('attempt %s failed; retry at %s', v_step.attempt, v_next));
    UPDATE tasker.workflow_steps s
    SET state = 'waiting_for_retry', attempt = s.attempt + 1, deliveries = 0, last_error = v_error,
        next_retry_at = v_next, msg_id = v_new_msg, lease_expires_at = NULL, claimed_by = NULL,
        updated_at = now()
    WHERE s.step_id = p_step_id;
    RETURN QUERY SELECT true, NULL::text, 'waiting_for_retry'::text, v_task_state, v_next, 0;
    RETURN;
  END IF;

  v_final_reason := CASE
    WHEN v_outcome = 'permanent_failure' THEN 'permanent failure'
    WHEN v_task_state <> 'in_progress' THEN format('not retried: task is %s', v_task_state)
    WHEN NOT v_step.retryable THEN 'step is not retryable'
    ELSE format('attempts exhausted (%s of %s)', v_step.attempt, v_step.max_attempts)
  END;
  PERFORM tasker._set_actor(v_actor, v_final_reason);
  UPDATE tasker.workflow_steps s
  SET state = 'error', last_error = coalesce(v_error, '{}'::jsonb) || jsonb_build_object('final_reason', v_final_reason),
      finished_at = clock_timestamp(), lease_expires_at = NULL, updated_at = now()
  WHERE s.step_id = p_step_id;
  PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_step.msg_id);
  IF v_task_state IN ('pending', 'in_progress') THEN
    PERFORM tasker._fail_task(v_task_id, v_namespace, v_actor,
      format('step "%s" failed: %s', v_step.name, v_final_reason));
    v_task_state := 'error';
  END IF;
  RETURN QUERY SELECT true, v_final_reason, 'error'::text, v_task_state, NULL::timestamptz, 0;
END
$$;

-- tasker.report_steps: applies many reports in one round trip and one transaction, each exactly
-- as report_step would. Reports are applied in task order so that two batches sharing tasks
-- cannot deadlock. p_reports is a JSON array of objects with step_id, attempt, delivery,
-- outcome and optionally result, error, retry_after_ms, activate. Returns one row per report.
CREATE FUNCTION tasker.report_steps(p_reports jsonb, p_worker_id text DEFAULT NULL)
RETURNS TABLE (
  step_id uuid, accepted boolean, reason text, step_state text, task_state text,
  next_retry_at timestamptz, enqueued int
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_report record;
BEGIN
  IF p_reports IS NULL OR jsonb_typeof(p_reports) <> 'array' THEN
    RAISE EXCEPTION 'invalid reports: expected a JSON array'
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'reports')::text;
  END IF;
  FOR v_report IN
    SELECT r.value AS body, tasker._message_uuid(r.value, 'step_id') AS id, r.ordinality
    FROM jsonb_array_elements(p_reports) WITH ORDINALITY r
    LEFT JOIN tasker.workflow_steps s ON s.step_id = tasker._message_uuid(r.value, 'step_id')
    ORDER BY s.task_id NULLS LAST, r.ordinality
  LOOP
    IF v_report.id IS NULL OR tasker._message_int(v_report.body, 'attempt') IS NULL
       OR tasker._message_int(v_report.body, 'delivery') IS NULL THEN
      RAISE EXCEPTION 'invalid report #%: step_id (uuid), attempt and delivery (integers) are required',
        v_report.ordinality
        USING ERRCODE = 'TK007', DETAIL = json_build_object('field', format('reports[%s]', v_report.ordinality - 1))::text;
    END IF;
    RETURN QUERY
    SELECT v_report.id, r.accepted, r.reason, r.step_state, r.task_state, r.next_retry_at, r.enqueued
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
