-- Leases are matched as a set and move their queue messages one call per namespace.
--
-- extend_leases (the workers' heartbeat) and release_leases (a draining worker handing back what
-- it prefetched) moved each step's PGMQ message with its own pgmq.set_vt call. set_vt is PL/pgSQL
-- that builds and plans its UPDATE on every call, so a heartbeat of 1,000 leases took 670-770 ms
-- and a release of 1,000 about 500 ms (this machine), with the leased step rows locked
-- throughout: a report of any of those steps waited for the heartbeat. PGMQ's set_vt also takes
-- an array of message ids; the messages of one call all get the same visibility time (extend:
-- now() + the lease, the same for every lease in the transaction; release: now), so they are
-- grouped by namespace and moved with one set_vt each.
--
-- Both also matched the steps against the leases asked for with a semi-join on unnest(), which the
-- generic plan ran as a nested loop over the whole array for every step: 424 of the 480 ms of
-- that heartbeat's UPDATE (auto_explain). The leases are now a jsonb set (tasker._lease_set),
-- built once per call and searched by bisection.
--
-- Contracts, locks and lock order are 0016's; the messages are still moved after their steps,
-- now in msg_id order within each namespace.

-- tasker._lease_key: a lease (step, attempt, delivery) as text, the key of a lease set. NULL when
-- any part is NULL. Inlined where it is used (immutable SQL).
CREATE FUNCTION tasker._lease_key(p_step_id uuid, p_attempt int, p_delivery int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_step_id::text || '/' || p_attempt::text || '/' || p_delivery::text
$$;

-- tasker._lease_set: the given leases (parallel arrays) as a jsonb object keyed by _lease_key, so
-- a row is tested against all of them with `?` in O(log n) (a jsonb object's keys are searched by
-- bisection) instead of a join with unnest(), which generic plans run as a nested loop over the
-- whole array per row. Leases with a NULL part are left out; NULL for no leases.
CREATE FUNCTION tasker._lease_set(p_step_ids uuid[], p_attempts int[], p_deliveries int[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_object_agg(tasker._lease_key(l.step_id, l.attempt, l.delivery), true)
           FILTER (WHERE l.step_id IS NOT NULL AND l.attempt IS NOT NULL AND l.delivery IS NOT NULL)
  FROM unnest(p_step_ids, p_attempts, p_deliveries) AS l(step_id, attempt, delivery)
$$;

-- tasker._set_messages_vt: moves the visibility time of the given messages (each paired with its
-- namespace) to p_vt, with one pgmq.set_vt per namespace, in msg_id order within each.
CREATE FUNCTION tasker._set_messages_vt(p_namespaces text[], p_msgs bigint[], p_vt timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_group record;
BEGIN
  FOR v_group IN
    SELECT g.namespace, array_agg(g.msg_id ORDER BY g.msg_id) AS msg_ids
    FROM unnest(p_namespaces, p_msgs) AS g(namespace, msg_id)
    GROUP BY g.namespace
    ORDER BY g.namespace
  LOOP
    PERFORM pgmq.set_vt(tasker.queue_name(v_group.namespace), v_group.msg_ids, p_vt);
  END LOOP;
END
$$;

-- tasker.extend_leases: 0016's contract and body; leases matched as a set, messages moved once per
-- namespace.
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
  v_until timestamptz;
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
      v_namespaces := v_namespaces || v_row.namespace;
      v_msgs := v_msgs || v_row.msg_id;
      v_until := v_row.lease_expires_at;
    END IF;
    step_id := v_row.step_id;
    extended := v_row.lease_expires_at IS NOT NULL;
    abort := v_row.lease_expires_at IS NULL OR v_row.task_state IS DISTINCT FROM 'in_progress';
    lease_expires_at := v_row.lease_expires_at;
    task_state := v_row.task_state;
    RETURN NEXT;
  END LOOP;

  -- The messages follow their leases: every lease extended here ends at the same moment (now()
  -- is the transaction's).
  PERFORM tasker._set_messages_vt(v_namespaces, v_msgs, v_until);
END
$$;

-- tasker.release_leases: 0016's contract and body; leases matched as a set, messages moved once per
-- namespace.
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
  PERFORM tasker._set_actor(coalesce(p_worker_id, 'worker'), 'lease released unused');
  -- What was released, as a set again, and its messages with their namespaces (a subplan per
  -- released step, reached by task id): joining the asked leases with the released rows ran as a
  -- nested loop over both, O(batch²), like the semi-join above.
  WITH released AS (
    UPDATE tasker.workflow_steps s
    SET state = 'enqueued', lease_expires_at = NULL, claimed_by = NULL, updated_at = now()
    WHERE s.step_id = ANY (p_step_ids) AND s.state IS NOT DISTINCT FROM 'in_progress'
      AND v_leases ? tasker._lease_key(s.step_id, s.attempt, s.deliveries)
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
