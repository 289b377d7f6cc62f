-- Three edges found by the second SQL review (test/protocol/lease-revival, retry-finished and sweep-poison tests):
--
-- 1. extend_leases revived a lease of a stopped task. A step whose worker stalls past its lease
--    in a task that then fails has its message archived by the next claim ("the sweeper will
--    close the step"); the worker's late heartbeat then extended the lease again (answering
--    abort), retry_task left the step alone because its lease held, and once the worker stopped
--    nothing could hand the step out: no message, and the sweep ignores a running task's step with
--    deliveries left. An expired lease of a stopped task is no longer extended (the answer is
--    abort without extension), so retry_task or the sweep closes the step. A lease that still
--    holds is extended as before: its message is hidden, so no claim archived it, and the
--    aborting handler's report can still be recorded.
-- 2. retry_task never finalized. A task failed by its deadline while its last step ran, whose step
--    then completed, went back to in_progress with nothing to run and never finished. retry_task
--    now finalizes the task as a report would when nothing is left to run.
-- 3. The lease sweep cancelled a second poison step of a task it had just failed (the task was no
--    longer running when it came to it), losing its DeliveryLimitExceeded error and dead letter.
--    Every step a pass finds expired on its last delivery in a task that was running when the
--    pass began is now dead-lettered.

-- tasker.extend_leases: 0032's body; an expired lease of a stopped task is not extended.
-- Guarantees: one row per lease asked for, in order; extended only when the caller still holds
-- the lease and either the task runs or the lease has not expired; abort when the lease is gone or the task left in_progress; the leased messages'
-- visibility moves with the leases; rows locked in step_id order.
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

-- tasker.sweep_expired_leases: 0006's body; (3) a task this pass failed still dead-letters its
-- other poison steps. Guarantees: fails steps whose lease expired on their last allowed delivery
-- (archiving the message as the dead letter) and their task; cancels the other expired steps of
-- finished tasks (deleting the message); skips what another sweeper or a report holds.
CREATE OR REPLACE FUNCTION tasker.sweep_expired_leases(p_limit int DEFAULT 100, p_actor text DEFAULT 'sweeper')
RETURNS TABLE (step_id uuid, task_id uuid, action text, reason text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_candidate record;
  v_step tasker.workflow_steps%ROWTYPE;
  v_task_state text;
  v_namespace text;
  v_reason text;
  v_failed_here uuid[] := '{}';
BEGIN
  FOR v_candidate IN
    SELECT s.step_id, s.task_id
    FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
    WHERE s.state = 'in_progress' AND s.lease_expires_at < now()
      AND (s.deliveries >= s.max_deliveries OR t.state NOT IN ('pending', 'in_progress'))
    ORDER BY s.lease_expires_at
    LIMIT greatest(coalesce(p_limit, 100), 1)
  LOOP
    -- Lock order: task, then step. Skip what another sweeper or a report is working on.
    SELECT t.state, n.name INTO v_task_state, v_namespace
    FROM tasker.tasks t JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
    WHERE t.task_id = v_candidate.task_id
    FOR NO KEY UPDATE OF t SKIP LOCKED;
    CONTINUE WHEN NOT FOUND;
    SELECT * INTO v_step FROM tasker.workflow_steps s
    WHERE s.step_id = v_candidate.step_id FOR NO KEY UPDATE SKIP LOCKED;
    CONTINUE WHEN NOT FOUND;
    CONTINUE WHEN v_step.state <> 'in_progress' OR v_step.lease_expires_at >= now();

    IF v_task_state IN ('pending', 'in_progress') OR v_step.task_id = ANY (v_failed_here) THEN
      CONTINUE WHEN v_step.deliveries < v_step.max_deliveries;
      v_reason := format('lease expired %s times without a report (delivery limit %s): the step''s worker crashed or hung each time',
                         v_step.deliveries, v_step.max_deliveries);
      PERFORM tasker._set_actor(p_actor, v_reason);
      UPDATE tasker.workflow_steps s
      SET state = 'error', finished_at = clock_timestamp(), lease_expires_at = NULL, updated_at = now(),
          last_error = jsonb_build_object('kind', 'DeliveryLimitExceeded', 'message', v_reason,
                                          'final_reason', v_reason)
      WHERE s.step_id = v_step.step_id;
      -- Kept in PGMQ's archive as the dead letter.
      PERFORM pgmq.archive(tasker.queue_name(v_namespace), v_step.msg_id);
      IF v_task_state IN ('pending', 'in_progress') THEN
        PERFORM tasker._fail_task(v_step.task_id, v_namespace, p_actor,
          format('step "%s" failed: %s', v_step.name, v_reason));
        v_failed_here := v_failed_here || v_step.task_id;
      END IF;
      RETURN QUERY SELECT v_step.step_id, v_step.task_id, 'dead_lettered'::text, v_reason;
    ELSE
      v_reason := format('task is %s and the step''s lease expired', v_task_state);
      PERFORM tasker._set_actor(p_actor, v_reason);
      UPDATE tasker.workflow_steps s
      SET state = 'cancelled', finished_at = clock_timestamp(), lease_expires_at = NULL, updated_at = now()
      WHERE s.step_id = v_step.step_id;
      PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_step.msg_id);
      RETURN QUERY SELECT v_step.step_id, v_step.task_id, 'cancelled'::text, v_reason;
    END IF;
  END LOOP;
END
$$;

-- tasker.retry_task: 0035's body; (2) a task with nothing left to run is finalized. Guarantees:
-- a task in error runs again with every step that cannot finish by itself started over (failed,
-- cancelled, and in_progress ones whose lease expired) with the template's budget of attempts,
-- under lease names no earlier run used; completed steps keep their results; ready steps are
-- enqueued with a message; a step whose lease still holds keeps running; a task whose steps are
-- all done is complete.
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
  v_enqueued := CASE WHEN v_ready IS NULL THEN 0 ELSE tasker._enqueue_steps(p_task_id, v_namespace, v_ready) END;
  -- (2) Nothing left to run (the steps that ran at the failure completed since): finished now,
  -- as the last report would have finished it.
  RETURN QUERY SELECT p_task_id, tasker._finalize_task(p_task_id, coalesce(p_actor, 'client')), true, v_retried, v_enqueued;
END
$$;
