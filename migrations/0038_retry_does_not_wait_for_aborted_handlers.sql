-- A handler told to stop is not waited for by retry_task (found re-reading 7d14777).
--
-- When a task stops (fails, is cancelled, times out), extend_leases answers abort for its running
-- steps and their workers abort the handlers. retry_task left a step whose lease still held
-- running, so the aborted handler's late report landed in the retried task: a StepCancelled
-- failure, which for a step that is not retryable failed the retried task again. extend_leases
-- now records on the step that its handler was told to stop (abort_requested), and retry_task
-- restarts such a step like one whose lease expired: cancelled (its message deleted), then back to
-- pending with its attempts counting on, so the late report quotes an older attempt and is
-- rejected. A step whose handler was not told to stop keeps running, as before.

ALTER TABLE tasker.workflow_steps ADD COLUMN abort_requested boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN tasker.workflow_steps.abort_requested IS
  'extend_leases told the holder of the current lease to stop (the task had stopped); retry_task restarts the step instead of waiting for it.';

-- tasker.extend_leases: 0037's body; marks the leases it tells to stop because their task stopped.
-- Guarantees: one row per lease asked for, in order; extended only when the caller still holds
-- the lease and either the task runs or the lease has not expired; abort when the lease is gone
-- or the task left in_progress (and then abort_requested is set on the step); the leased
-- messages' visibility moves with the leases; rows locked in step_id order.
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
  v_namespaces text[] := '{}';
  v_msgs bigint[] := '{}';
  -- Every lease extended here ends at the same moment (now() is the transaction's).
  v_until timestamptz := now() + make_interval(secs => p_lease_seconds);
  v_leases jsonb;
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

  v_leases := tasker._lease_set(p_step_ids, p_attempts, p_deliveries);

  -- Lock the rows in step_id order first, the order report_steps locks them in: updating them
  -- in whatever order the plan picks deadlocked against concurrent reports (40P01).
  PERFORM 1 FROM tasker.workflow_steps s
  WHERE s.step_id = ANY (p_step_ids)
  ORDER BY s.step_id
  FOR NO KEY UPDATE OF s;

  -- (0038) Leases this call tells to stop because their task stopped: their handlers are
  -- winding down, and retry_task must not count on their reports.
  UPDATE tasker.workflow_steps s
  SET abort_requested = true
  WHERE s.step_id = ANY (p_step_ids) AND s.state = 'in_progress' AND NOT s.abort_requested
    AND v_leases ? tasker._lease_key(s.step_id, s.attempt, s.deliveries)
    AND EXISTS (SELECT 1 FROM tasker.tasks t WHERE t.task_id = s.task_id AND t.state <> 'in_progress');

  FOR v_row IN
    WITH extended AS (
      UPDATE tasker.workflow_steps s
      SET lease_expires_at = now() + make_interval(secs => p_lease_seconds), updated_at = now()
      WHERE s.step_id = ANY (p_step_ids) AND s.state IS NOT DISTINCT FROM 'in_progress'
        AND v_leases ? tasker._lease_key(s.step_id, s.attempt, s.deliveries)
        -- (1) An expired lease of a stopped task stays expired: a claim may have archived its message.
        AND (s.lease_expires_at >= now()
             OR EXISTS (SELECT 1 FROM tasker.tasks t WHERE t.task_id = s.task_id AND t.state = 'in_progress'))
      RETURNING s.step_id, s.attempt, s.deliveries, s.msg_id
    ),
    found AS (
      SELECT coalesce(jsonb_object_agg(tasker._lease_key(x.step_id, x.attempt, x.deliveries), x.msg_id),
                      '{}'::jsonb) AS msgs
      FROM extended x
    )
    SELECT a.step_id, f.msgs ? tasker._lease_key(a.step_id, a.attempt, a.delivery) AS extended,
           (f.msgs ->> tasker._lease_key(a.step_id, a.attempt, a.delivery))::bigint AS msg_id,
           c.task_state, c.namespace
    FROM unnest(p_step_ids, p_attempts, p_deliveries) WITH ORDINALITY AS a(step_id, attempt, delivery, ord)
    CROSS JOIN found f
    LEFT JOIN LATERAL (
      SELECT t.state AS task_state, n.name AS namespace
      FROM tasker.workflow_steps s
      CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
      JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
      WHERE s.step_id = a.step_id
    ) c ON true
    ORDER BY a.ord
  LOOP
    IF v_row.msg_id IS NOT NULL THEN
      v_namespaces := v_namespaces || v_row.namespace;
      v_msgs := v_msgs || v_row.msg_id;
    END IF;
    step_id := v_row.step_id;
    extended := v_row.extended;
    abort := NOT v_row.extended OR v_row.task_state IS DISTINCT FROM 'in_progress';
    lease_expires_at := CASE WHEN v_row.extended THEN v_until END;
    task_state := v_row.task_state;
    RETURN NEXT;
  END LOOP;

  -- The messages follow their leases.
  PERFORM tasker._set_messages_vt(v_namespaces, v_msgs, v_until);
END
$$;

-- tasker.retry_task: 0037's body; a running step whose handler was told to stop is restarted like
-- one whose lease expired. Guarantees: a task in error runs again with every step that cannot
-- finish by itself started over (failed, cancelled, and in_progress ones whose lease expired or
-- whose handler was told to stop) with the template's budget of attempts, under lease names no
-- earlier run used; completed steps keep their results; ready steps are enqueued with a message;
-- a step still running undisturbed keeps running; a task whose steps are all done is complete.
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
  v_enqueued int;
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
  PERFORM tasker._set_actor(coalesce(p_actor, 'client'), 'task retried: lease had expired or its handler was told to stop');
  WITH lapsed AS (
    UPDATE tasker.workflow_steps s
    SET state = 'cancelled', finished_at = clock_timestamp(), lease_expires_at = NULL, updated_at = now()
    WHERE s.task_id = p_task_id AND s.state = 'in_progress'
      AND (s.lease_expires_at < clock_timestamp() OR s.abort_requested)
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
      deliveries = 0, results = NULL, msg_id = NULL, abort_requested = false,
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
  v_enqueued := CASE WHEN v_ready IS NULL THEN 0 ELSE tasker._enqueue_steps(p_task_id, v_namespace, v_ready) END;
  -- (2) Nothing left to run (the steps that ran at the failure completed since): finished now,
  -- as the last report would have finished it.
  RETURN QUERY SELECT p_task_id, tasker._finalize_task(p_task_id, coalesce(p_actor, 'client')), true, v_retried, v_enqueued;
END
$$;
