-- 0007: giving back leases a worker will not use.

-- A worker that drains hands back the steps it claimed into its prefetch buffer but never
-- started: they go back to enqueued so another worker can take them at once.
INSERT INTO tasker.step_state_machine (from_state, to_state) VALUES ('in_progress', 'enqueued');

-- tasker.release_leases: for each (step, attempt, delivery) whose lease is still held, moves the
-- step back to enqueued and makes its message visible now, so the next claim takes it without
-- waiting for the lease to expire. The caller promises it never started these steps' handlers
-- (a released lease counts as a delivery, so releases cannot hide a poison step for ever).
-- Leases no longer held are left alone (released = false). Rows come back in the order asked.
CREATE FUNCTION tasker.release_leases(
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
    WITH asked AS (
      SELECT * FROM unnest(p_step_ids, p_attempts, p_deliveries) WITH ORDINALITY
        AS a(step_id, attempt, delivery, ord)
    ),
    released AS (
      UPDATE tasker.workflow_steps s
      SET state = 'enqueued', lease_expires_at = NULL, claimed_by = NULL, updated_at = now()
      FROM asked a
      WHERE s.step_id = a.step_id AND s.state = 'in_progress'
        AND s.attempt = a.attempt AND s.deliveries = a.delivery
      RETURNING s.step_id, s.attempt, s.deliveries, s.msg_id, s.task_id
    )
    SELECT a.step_id, r.msg_id, r.step_id IS NOT NULL AS released, n.name AS namespace
    FROM asked a
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
