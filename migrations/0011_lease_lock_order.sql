-- Lock order of lease extension. extend_leases (0008) updated the held steps in the order its
-- plan chose, while report_steps locks its tasks and then their steps in step_id order; a
-- heartbeat and a report batch sharing two steps could each hold one and wait for the other
-- (deadlock detected, 40P01, seen under load). The heartbeat retried, so nothing was lost, but
-- repeated failures could let a lease lapse.

-- tasker.extend_leases: as in 0008 (pushes each held lease and its hidden message forward; abort
-- = true when the lease is gone or the task is no longer running), and it now locks the steps in
-- step_id order before changing them, so it cannot deadlock with report_steps.
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
