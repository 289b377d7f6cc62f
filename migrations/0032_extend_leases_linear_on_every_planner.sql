-- extend_leases does work linear in its batch whatever plan the planner picks.
--
-- A heartbeat's statement joined the leases asked for (an unnest of the call's arrays) to the rows
-- its UPDATE extended (a data-modifying CTE, which no index serves) and to each step's task. The
-- planner estimates ten rows for the unnest and one for the CTE, so the join method is a guess:
-- PostgreSQL 18 hashes both joins, PostgreSQL 15 ran both as nested loops, a heartbeat of 300
-- leases visiting 90,000 rows twice (test/protocol/batch-complexity.test.ts failed there).
-- Each lease asked for now looks up its extended row by lease key in one jsonb object built from
-- the CTE (a binary search), and reaches its step and task by key in a lateral subquery (0027's
-- rule): a probe per lease on every version. Nothing else changes: what it returns, the row lock
-- order and the messages' visibility are 0027's.

-- tasker.extend_leases: 0027's contract (extends the leases the caller still holds, in step_id
-- lock order; returns one row per lease asked for, in order, with abort set when the lease is
-- gone or the task left in_progress; moves the leased messages' visibility with the leases),
-- each lease found by key.
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
