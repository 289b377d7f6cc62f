-- Three races at the protocol's edges, found by a review, each with a test that failed before
-- (test/protocol/edge-races.test.ts):
--
-- 1. release_leases gave a step back to the queue without looking at its task: a worker draining
--    after its task was cancelled (or failed) made the step enqueued again, and it was claimed,
--    run and completed inside the cancelled task; racing cancel_task, it left a cancelled task
--    with an enqueued step and a visible message that nothing would ever sweep. It now locks the
--    tasks first (the protocol's lock order: tasks, then steps) and releases only steps of running
--    tasks; the others keep their lease, which the lease sweep closes when it expires (a step of
--    a finished task whose lease expired is cancelled).
-- 2. retry_task left in_progress steps alone. One whose worker had died (lease expired) may have
--    lost its message already: a claim archives the message of an expired step of a finished
--    task ("the sweeper will close the step"). Back in a running task, with no message, no claim
--    could redeliver it and the sweep left it alone (deliveries left, task running): the task
--    never finished. retry_task now closes such steps first, as the sweep would (cancelled, their
--    message deleted), so they start over with the failed and cancelled ones.
-- 3. A decision step's success reported after its task stopped running was recorded complete
--    without its choice (only a running task advances), and retry_task then enqueued every branch,
--    the ones not chosen included. It now ends cancelled with the reason, like a batch step's
--    fan-out in the same case (0010), and retry_task runs the decision again.

-- tasker.release_leases: 0019's body, after locking the steps' tasks in order, and releasing
-- only steps whose task is running. Guarantees: a released step is enqueued with a visible
-- message in a running task; a step of a cancelled or failed task is never made runnable again.
CREATE OR REPLACE FUNCTION tasker.release_leases(
  p_step_ids uuid[], p_attempts int[], p_deliveries int[], p_worker_id text DEFAULT NULL
) RETURNS TABLE (step_id uuid, released boolean)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_namespaces text[];
  v_msgs bigint[];
  v_leases jsonb;
  v_released jsonb;
BEGIN
  IF cardinality(p_step_ids) IS DISTINCT FROM cardinality(p_attempts)
     OR cardinality(p_step_ids) IS DISTINCT FROM cardinality(p_deliveries) THEN
    RAISE EXCEPTION 'invalid leases: step_ids, attempts and deliveries must have the same length'
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'step_ids')::text;
  END IF;
  v_leases := tasker._lease_set(p_step_ids, p_attempts, p_deliveries);
  -- Lock order everywhere: tasks (in order), then steps. A cancel_task under way finishes first,
  -- and the task state read below is the one it left.
  PERFORM 1 FROM tasker.tasks t
  WHERE t.task_id = ANY (ARRAY(SELECT s.task_id FROM tasker.workflow_steps s WHERE s.step_id = ANY (p_step_ids)))
  ORDER BY t.task_id
  FOR NO KEY UPDATE;
  PERFORM tasker._set_actor(coalesce(p_worker_id, 'worker'), 'lease released unused');
  -- What was released, as a set again, and its messages with their namespaces (a subplan per
  -- released step, reached by task id): joining the asked leases with the released rows ran as a
  -- nested loop over both, O(batch²).
  WITH released AS (
    UPDATE tasker.workflow_steps s
    SET state = 'enqueued', lease_expires_at = NULL, claimed_by = NULL, updated_at = now()
    WHERE s.step_id = ANY (p_step_ids) AND s.state IS NOT DISTINCT FROM 'in_progress'
      AND v_leases ? tasker._lease_key(s.step_id, s.attempt, s.deliveries)
      AND EXISTS (SELECT 1 FROM tasker.tasks t WHERE t.task_id = s.task_id AND t.state = 'in_progress')
    RETURNING s.step_id, s.attempt, s.deliveries, s.msg_id, s.task_id
  )
  SELECT jsonb_object_agg(tasker._lease_key(r.step_id, r.attempt, r.deliveries), true),
         coalesce(array_agg(r.msg_id) FILTER (WHERE r.msg_id IS NOT NULL), '{}'),
         coalesce(array_agg((SELECT n.name FROM tasker.tasks t
                             JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
                             WHERE t.task_id = r.task_id)) FILTER (WHERE r.msg_id IS NOT NULL), '{}')
  INTO v_released, v_msgs, v_namespaces
  FROM released r;

  RETURN QUERY
  SELECT a.step_id, coalesce(v_released ? tasker._lease_key(a.step_id, a.attempt, a.delivery), false)
  FROM unnest(p_step_ids, p_attempts, p_deliveries) WITH ORDINALITY AS a(step_id, attempt, delivery, ord)
  ORDER BY a.ord;

  -- The released messages become visible now.
  PERFORM tasker._set_messages_vt(v_namespaces, v_msgs, clock_timestamp());
END
$$;

-- tasker.retry_task: 0009's body, closing first the in_progress steps whose lease has expired.
-- Guarantees: a task in error runs again with every step that cannot finish by itself started
-- over (failed, cancelled, and in_progress ones whose worker is gone), completed steps kept,
-- ready steps enqueued with a message; a step whose lease still holds keeps running.
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

  PERFORM tasker._set_actor(coalesce(p_actor, 'client'), 'task retried');
  UPDATE tasker.workflow_steps s
  SET state = 'pending', attempt = 1, deliveries = 0, results = NULL, msg_id = NULL,
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

-- tasker.report_step: 0010's body (with the plan settings 0012 and 0013 gave it); a decision's
-- success reported after its task stopped running ends the step cancelled, like a batch step's
-- fan-out in that case, so retry_task runs the decision again instead of every branch.
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
