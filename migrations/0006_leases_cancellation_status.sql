-- 0006: extending leases, cancelling tasks, sweeping expired leases, reading task status.

-- tasker.extend_leases: for each (step, attempt, delivery) still holding its lease, pushes the
-- lease and the hidden queue message p_lease_seconds into the future, so a long handler keeps its
-- step. Returns one row per step asked about: extended = false when the lease is gone (the step
-- finished, or was delivered again elsewhere), and abort = true when the handler should stop (its
-- lease is gone, or its task is no longer running, e.g. cancelled). Rows come back in the order
-- asked.
CREATE FUNCTION tasker.extend_leases(
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
    WITH asked AS (
      SELECT * FROM unnest(p_step_ids, p_attempts, p_deliveries) WITH ORDINALITY
        AS a(step_id, attempt, delivery, ord)
    ),
    extended AS (
      UPDATE tasker.workflow_steps s
      SET lease_expires_at = now() + make_interval(secs => p_lease_seconds), updated_at = now()
      FROM asked a
      WHERE s.step_id = a.step_id AND s.state = 'in_progress'
        AND s.attempt = a.attempt AND s.deliveries = a.delivery
      RETURNING s.step_id, s.attempt, s.deliveries, s.msg_id, s.lease_expires_at
    )
    SELECT a.step_id, x.msg_id, x.lease_expires_at, t.state AS task_state, n.name AS namespace
    FROM asked a
    LEFT JOIN extended x
      ON x.step_id = a.step_id AND x.attempt = a.attempt AND x.deliveries = a.delivery
    LEFT JOIN tasker.workflow_steps s ON s.step_id = a.step_id
    LEFT JOIN tasker.tasks t ON t.task_id = s.task_id
    LEFT JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
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

-- tasker.cancel_task: cancels a task that has not finished: every step that has not started is
-- cancelled and its message deleted, the task moves to cancelled (waking waiters), and workers
-- running its steps learn it from extend_leases (abort = true) or the tasker_task_state channel.
-- Their later reports are recorded but start nothing. A finished task is left as it is
-- (changed = false). Raises TK005 for an unknown task.
CREATE FUNCTION tasker.cancel_task(
  p_task_id uuid, p_reason text DEFAULT 'cancelled by request', p_actor text DEFAULT 'client'
) RETURNS TABLE (task_id uuid, state text, changed boolean, cancelled_steps int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_state text;
  v_namespace text;
  v_count int;
BEGIN
  SELECT t.state, n.name INTO v_state, v_namespace
  FROM tasker.tasks t JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  WHERE t.task_id = p_task_id
  FOR NO KEY UPDATE OF t;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown task %', p_task_id
      USING ERRCODE = 'TK005', DETAIL = json_build_object('field', 'task_id', 'value', p_task_id)::text;
  END IF;
  IF v_state NOT IN ('pending', 'in_progress') THEN
    RETURN QUERY SELECT p_task_id, v_state, false, 0;
    RETURN;
  END IF;
  PERFORM tasker._set_actor(coalesce(p_actor, 'client'), coalesce(p_reason, 'cancelled by request'));
  v_count := tasker._cancel_open_steps(p_task_id, v_namespace);
  UPDATE tasker.tasks t SET state = 'cancelled', finished_at = clock_timestamp(), updated_at = now()
  WHERE t.task_id = p_task_id;
  RETURN QUERY SELECT p_task_id, 'cancelled'::text, true, v_count;
END
$$;

-- tasker.sweep_expired_leases: closes in_progress steps whose lease expired and that no worker
-- will legitimately take again: a step that used all its deliveries without a report goes to
-- error (a poison step: its worker died or hung each time) and fails its task; a step of a task
-- that already finished is cancelled. Steps with deliveries left are not touched: their message
-- becomes visible again and the next claim redelivers them. Processes at most p_limit steps per
-- call and is safe to run from several orchestrators at once. Returns what it did.
CREATE FUNCTION tasker.sweep_expired_leases(p_limit int DEFAULT 100, p_actor text DEFAULT 'sweeper')
RETURNS TABLE (step_id uuid, task_id uuid, action text, reason text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_candidate record;
  v_step tasker.workflow_steps%ROWTYPE;
  v_task_state text;
  v_namespace text;
  v_reason text;
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

    IF v_task_state IN ('pending', 'in_progress') THEN
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
      PERFORM tasker._fail_task(v_step.task_id, v_namespace, p_actor,
        format('step "%s" failed: %s', v_step.name, v_reason));
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

-- tasker.task_status: the task and every step with its state, attempts, result, last error and
-- dependencies, as one JSON document; NULL for an unknown task. Reads only.
CREATE FUNCTION tasker.task_status(p_task_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'task_id', t.task_id,
    'namespace', n.name,
    'name', nt.name,
    'version', nt.version,
    'state', t.state,
    'context', t.context,
    'tags', to_jsonb(t.tags),
    'priority', t.priority,
    'idempotency_key', t.idempotency_key,
    'correlation_id', t.correlation_id,
    'initiator', t.initiator,
    'created_at', t.created_at,
    'updated_at', t.updated_at,
    'finished_at', t.finished_at,
    'step_counts', (SELECT coalesce(jsonb_object_agg(c.state, c.n), '{}') FROM (
                      SELECT s.state, count(*) AS n FROM tasker.workflow_steps s
                      WHERE s.task_id = t.task_id GROUP BY s.state) c),
    'steps', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'step_id', s.step_id,
                'name', s.name,
                'handler', s.handler,
                'type', s.step_type,
                'state', s.state,
                'attempt', s.attempt,
                'max_attempts', s.max_attempts,
                'deliveries', s.deliveries,
                'dependencies', (SELECT coalesce(jsonb_agg(p.name ORDER BY p.name), '[]')
                                 FROM tasker.workflow_step_edges e
                                 JOIN tasker.workflow_steps p ON p.step_id = e.from_step_id
                                 WHERE e.to_step_id = s.step_id),
                'results', s.results,
                'last_error', s.last_error,
                'claimed_by', s.claimed_by,
                'lease_expires_at', s.lease_expires_at,
                'next_retry_at', s.next_retry_at,
                'enqueued_at', s.enqueued_at,
                'started_at', s.started_at,
                'finished_at', s.finished_at) ORDER BY s.created_at, s.step_id), '[]')
              FROM tasker.workflow_steps s WHERE s.task_id = t.task_id))
  FROM tasker.tasks t
  JOIN tasker.named_tasks nt ON nt.named_task_id = t.named_task_id
  JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  WHERE t.task_id = p_task_id;
$$;

-- tasker.pgmq_version: the installed PGMQ version, whether installed as an extension or with the
-- SQL-only script (recorded in pgmq.__pgmq_migrations, the convention of the pgmq crate); NULL
-- when neither is found.
CREATE FUNCTION tasker.pgmq_version() RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_version text;
BEGIN
  SELECT e.extversion INTO v_version FROM pg_extension e WHERE e.extname = 'pgmq';
  IF v_version IS NOT NULL THEN
    RETURN v_version;
  END IF;
  IF to_regclass('pgmq.__pgmq_migrations') IS NOT NULL THEN
    EXECUTE 'SELECT version FROM pgmq.__pgmq_migrations ORDER BY run_at DESC LIMIT 1' INTO v_version;
  END IF;
  RETURN v_version;
END
$$;
