-- Lease names are never reused, also across retry_task (found by the SQL review of 0034,
-- test/protocol/edge-races.test.ts).
--
-- A lease is named by (attempt, delivery), and reports and lease extensions are compare-and-swaps
-- on that name. retry_task started every retried step over at (1, 0), so the first claim of the
-- new run was lease (1, 1) again: a worker that had hung through the failure, the dead-lettering
-- and the retry still held a valid-looking lease, its late report was accepted, and the new run's
-- report of the same step was then rejected. Now a retried step's attempt counts on from where it
-- stopped (one more when a lease of its current attempt was ever handed out, unchanged when none
-- was), so every lease the first run issued names an older attempt and loses.
--
-- The budget of the new run is still the template's: attempt_base records the attempts of earlier
-- runs, max_attempts grows by the same number, and the backoff counts attempts within the run. A
-- handler so sees attempt 4 of 6 in the second run of a step allowed 3 attempts that failed after
-- 3 (isLastAttempt stays attempt = max_attempts), and every check of attempt against max_attempts
-- (report_step's retry decision, the SDK's isLastAttempt) is unchanged.

ALTER TABLE tasker.workflow_steps
  ADD COLUMN attempt_base int NOT NULL DEFAULT 0
  CONSTRAINT step_attempt_base_below_attempt CHECK (attempt_base >= 0 AND attempt_base < attempt);

COMMENT ON COLUMN tasker.workflow_steps.attempt_base IS
  'Attempts used by runs before the last retry_task: the current run''s attempts are attempt_base + 1 .. max_attempts.';

-- tasker.retry_task: 0034's body; the retried steps' attempts count on instead of starting at 1.
-- Guarantees: a task in error runs again with every step that cannot finish by itself started
-- over (failed, cancelled, and in_progress ones whose worker is gone) with the template's budget
-- of attempts, under lease names no earlier run used; completed steps keep their results; ready
-- steps are enqueued with a message; a step whose lease still holds keeps running.
CREATE OR REPLACE FUNCTION tasker.retry_task(p_task_id uuid, p_actor text DEFAULT 'client')
RETURNS TABLE (task_id uuid, state text, changed boolean, retried_steps int, enqueued_steps int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_state text;
  v_namespace text;
  v_retried int;
  v_ready uuid[];
  v_lapsed bigint[];
BEGIN
  SELECT t.state, n.name INTO v_state, v_namespace
  FROM tasker.tasks t JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  WHERE t.task_id = p_task_id
  FOR NO KEY UPDATE OF t;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown task %', p_task_id
      USING ERRCODE = 'TK005', DETAIL = json_build_object('field', 'task_id', 'value', p_task_id)::text;
  END IF;
  IF v_state <> 'error' THEN
    RETURN QUERY SELECT p_task_id, v_state, false, 0, 0;
    RETURN;
  END IF;

  -- What the lease sweep would do to them, done now: their message may be gone already, and in a
  -- running task nothing would redeliver them (0034).
  PERFORM tasker._set_actor(coalesce(p_actor, 'client'), 'task retried: lease had expired');
  WITH lapsed AS (
    UPDATE tasker.workflow_steps s
    SET state = 'cancelled', finished_at = clock_timestamp(), lease_expires_at = NULL, updated_at = now()
    WHERE s.task_id = p_task_id AND s.state = 'in_progress' AND s.lease_expires_at < clock_timestamp()
    RETURNING s.msg_id
  )
  SELECT array_agg(l.msg_id) FILTER (WHERE l.msg_id IS NOT NULL) INTO v_lapsed FROM lapsed l;
  IF v_lapsed IS NOT NULL THEN
    PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_lapsed);
  END IF;

  -- deliveries > 0: some lease (attempt, 1..deliveries) was handed out, so the new run starts at
  -- the next attempt; with none, (attempt, 1) is still unused. Right-hand sides read the old row.
  PERFORM tasker._set_actor(coalesce(p_actor, 'client'), 'task retried');
  UPDATE tasker.workflow_steps s
  SET state = 'pending',
      attempt = s.attempt + (s.deliveries > 0)::int,
      attempt_base = s.attempt + (s.deliveries > 0)::int - 1,
      max_attempts = s.attempt + (s.deliveries > 0)::int - 1 + (s.max_attempts - s.attempt_base),
      deliveries = 0, results = NULL, msg_id = NULL,
      claimed_by = NULL, lease_expires_at = NULL, next_retry_at = NULL, enqueued_at = NULL,
      started_at = NULL, finished_at = NULL, updated_at = now()
  WHERE s.task_id = p_task_id AND s.state IN ('error', 'cancelled');
  GET DIAGNOSTICS v_retried = ROW_COUNT;

  UPDATE tasker.tasks t
  SET state = 'in_progress', finished_at = NULL, deadline_at = NULL, updated_at = now()
  WHERE t.task_id = p_task_id;

  SELECT array_agg(s.step_id) INTO v_ready
  FROM tasker.workflow_steps s
  WHERE s.task_id = p_task_id AND s.state = 'pending'
    AND NOT EXISTS (
      SELECT 1 FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps p ON p.step_id = e.from_step_id
      WHERE e.to_step_id = s.step_id AND p.state NOT IN ('complete', 'skipped'))
    AND (NOT EXISTS (SELECT 1 FROM tasker.workflow_step_edges e WHERE e.to_step_id = s.step_id)
         OR EXISTS (
           SELECT 1 FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps p ON p.step_id = e.from_step_id
           WHERE e.to_step_id = s.step_id AND p.state = 'complete'));

  PERFORM tasker._set_actor(coalesce(p_actor, 'client'), 'task retried: step enqueued');
  RETURN QUERY SELECT p_task_id, 'in_progress'::text, true, v_retried,
                      CASE WHEN v_ready IS NULL THEN 0 ELSE tasker._enqueue_steps(p_task_id, v_namespace, v_ready) END;
END
$$;

-- tasker.report_step: 0034's body; a retryable failure's backoff counts the attempts of the
-- current run (attempt - attempt_base), so a retried task's steps back off from the start again.
CREATE OR REPLACE FUNCTION tasker.report_step(
  p_step_id uuid,
  p_attempt int,
  p_delivery int,
  p_outcome text,
  p_result jsonb DEFAULT NULL,
  p_error jsonb DEFAULT NULL,
  p_retry_after_ms int DEFAULT NULL,
  p_activate text[] DEFAULT NULL,
  p_worker_id text DEFAULT NULL,
  p_batch jsonb DEFAULT NULL
) RETURNS TABLE (
  accepted boolean, reason text, step_state text, task_state text,
  next_retry_at timestamptz, enqueued int
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_actor text := coalesce(p_worker_id, 'worker');
  v_batch jsonb := nullif(p_batch, 'null'::jsonb);
  v_task_id uuid;
  v_task_state text;
  v_namespace text;
  v_step tasker.workflow_steps%ROWTYPE;
  v_outcome text := p_outcome;
  v_error jsonb := p_error;
  v_problem text;
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

  IF v_outcome = 'success' AND (v_batch IS NOT NULL OR v_step.step_type = 'batch') THEN
    v_problem := tasker._fan_out_problem(p_step_id, v_step.name, v_step.step_type, v_batch);
    IF v_problem IS NOT NULL THEN
      v_outcome := 'permanent_failure';
      v_error := jsonb_build_object('kind', 'InvalidFanOut', 'message', v_problem);
    END IF;
  END IF;

  -- From here on, a success with items is a valid fan-out of a batch step, and a decision's
  -- success a valid choice. Neither is applied to a task that stopped running: a decision's
  -- choice would be lost (only a running task advances), and retry_task would then enqueue every
  -- branch as the successors of a complete step (0034).
  IF v_outcome = 'success' AND (v_batch IS NOT NULL OR v_step.step_type = 'decision') AND v_task_state <> 'in_progress' THEN
    v_final_reason := CASE WHEN v_batch IS NOT NULL
      THEN format('task is %s: the batch of %s items was not fanned out; retry_task runs the step again',
                  v_task_state, jsonb_array_length(v_batch))
      ELSE format('task is %s: the decision (%s) was not applied; retry_task runs the step again',
                  v_task_state, coalesce(array_to_string(p_activate, ', '), 'no branch'))
      END;
    PERFORM tasker._set_actor(v_actor, v_final_reason);
    UPDATE tasker.workflow_steps s
    SET state = 'cancelled', results = p_result, finished_at = clock_timestamp(),
        lease_expires_at = NULL, updated_at = now()
    WHERE s.step_id = p_step_id;
    PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_step.msg_id);
    RETURN QUERY SELECT true, v_final_reason, 'cancelled'::text, v_task_state, NULL::timestamptz, 0;
    RETURN;
  END IF;

  IF v_outcome = 'success' THEN
    PERFORM tasker._set_actor(v_actor, CASE WHEN v_batch IS NULL THEN 'handler succeeded'
      ELSE format('handler succeeded; fanned out %s items', jsonb_array_length(v_batch)) END);
    UPDATE tasker.workflow_steps s
    SET state = 'complete', results = p_result, finished_at = clock_timestamp(),
        lease_expires_at = NULL, updated_at = now()
    WHERE s.step_id = p_step_id;
    PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_step.msg_id);
    IF v_task_state = 'in_progress' THEN
      IF v_batch IS NOT NULL THEN
        PERFORM tasker._fan_out(v_task_id, p_step_id, v_batch, v_actor);
      END IF;
      v_enqueued := tasker._advance(v_task_id, v_namespace, p_step_id, p_activate, v_actor);
      v_task_state := tasker._finalize_task(v_task_id, v_actor);
    END IF;
    RETURN QUERY SELECT true, NULL::text, 'complete'::text, v_task_state, NULL::timestamptz, v_enqueued;
    RETURN;
  END IF;

  IF v_outcome = 'retryable_failure' AND v_step.retryable AND v_step.attempt < v_step.max_attempts
     AND v_task_state = 'in_progress' THEN
    v_next := clock_timestamp() + make_interval(secs => coalesce(p_retry_after_ms,
                tasker.retry_delay_ms(v_step.attempt - v_step.attempt_base, v_step.backoff_ms, v_step.max_backoff_ms)) / 1000.0);
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
