-- Task lifecycle beyond the hot path: the input schema a client checks before creating a task,
-- task deadlines (timeouts) and their sweeper, and retrying a failed task.

-- A task may be retried after it failed: error -> in_progress for the task; its failed and
-- cancelled steps go back to pending (error -> pending, cancelled -> pending).
INSERT INTO tasker.task_state_machine (from_state, to_state) VALUES ('error', 'in_progress');
INSERT INTO tasker.step_state_machine (from_state, to_state) VALUES
  ('error', 'pending'),
  ('cancelled', 'pending');

-- A task may carry a deadline; the orchestrator fails it when the deadline passes.
ALTER TABLE tasker.tasks ADD COLUMN deadline_at timestamptz;
CREATE INDEX tasks_deadlines ON tasker.tasks (deadline_at)
  WHERE deadline_at IS NOT NULL AND state IN ('pending', 'in_progress');

-- tasker.template_input_schema: the version create_task would pick for (namespace, name,
-- version; NULL = highest) and that version's input schema (NULL when it has none). No row for
-- an unknown template. Reads only.
CREATE FUNCTION tasker.template_input_schema(p_namespace text, p_name text, p_version text)
RETURNS TABLE (version text, input_schema jsonb)
LANGUAGE sql STABLE AS $$
  SELECT nt.version, nt.input_schema
  FROM tasker.named_tasks nt JOIN tasker.namespaces n ON n.namespace_id = nt.namespace_id
  WHERE n.name = p_namespace AND nt.name = p_name AND (p_version IS NULL OR nt.version = p_version)
  ORDER BY nt.version_sort DESC
  LIMIT 1;
$$;

-- tasker.create_task (replaces 0003's, adding p_timeout_ms): as before, plus a deadline of
-- p_timeout_ms after creation when given (1 ms to 30 days), after which sweep_task_timeouts fails
-- the task. Raises TK007 for a timeout out of range.
DROP FUNCTION tasker.create_task(text, text, text, jsonb, text, text, int, text[], text);
CREATE FUNCTION tasker.create_task(
  p_namespace text,
  p_name text,
  p_version text,
  p_context jsonb,
  p_idempotency_key text DEFAULT NULL,
  p_correlation_id text DEFAULT NULL,
  p_priority int DEFAULT 0,
  p_tags text[] DEFAULT '{}',
  p_initiator text DEFAULT NULL,
  p_timeout_ms bigint DEFAULT NULL
) RETURNS TABLE (task_id uuid, created boolean, state text)
LANGUAGE plpgsql AS $$
DECLARE
  v_namespace_id uuid;
  v_named_task_id uuid;
  v_task_id uuid;
  v_roots uuid[];
BEGIN
  PERFORM tasker.queue_name(p_namespace);
  SELECT n.namespace_id INTO v_namespace_id FROM tasker.namespaces n WHERE n.name = p_namespace;
  SELECT nt.named_task_id INTO v_named_task_id
  FROM tasker.named_tasks nt
  WHERE nt.namespace_id = v_namespace_id AND nt.name = p_name
    AND (p_version IS NULL OR nt.version = p_version)
  ORDER BY nt.version_sort DESC
  LIMIT 1;
  IF v_named_task_id IS NULL THEN
    RAISE EXCEPTION 'unknown task template %/%@%', p_namespace, p_name, coalesce(p_version, 'latest')
      USING ERRCODE = 'TK003',
            DETAIL = json_build_object('namespace', p_namespace, 'name', p_name, 'version', p_version)::text;
  END IF;

  IF p_context IS NOT NULL AND jsonb_typeof(p_context) <> 'object' THEN
    RAISE EXCEPTION 'invalid task context for %/%: the context must be a JSON object, got %',
      p_namespace, p_name, jsonb_typeof(p_context)
      USING ERRCODE = 'TK004', DETAIL = json_build_object('field', 'context')::text;
  END IF;
  IF p_idempotency_key IS NOT NULL AND length(p_idempotency_key) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'invalid idempotency key: must be 1 to 255 characters'
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'idempotency_key')::text;
  END IF;
  IF p_timeout_ms IS NOT NULL AND p_timeout_ms NOT BETWEEN 1 AND 2592000000 THEN
    RAISE EXCEPTION 'invalid task timeout %: must be 1 ms to 30 days', p_timeout_ms
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'timeout_ms')::text;
  END IF;

  PERFORM tasker._set_actor(coalesce(p_initiator, 'client'), 'task created');
  INSERT INTO tasker.tasks AS t
    (named_task_id, namespace_id, context, tags, priority, idempotency_key, correlation_id, initiator,
     deadline_at)
  VALUES (v_named_task_id, v_namespace_id, coalesce(p_context, '{}'), coalesce(p_tags, '{}'),
          coalesce(p_priority, 0), p_idempotency_key,
          coalesce(p_correlation_id, tasker.uuid_v7()::text), p_initiator,
          now() + make_interval(secs => p_timeout_ms / 1000.0))
  ON CONFLICT ON CONSTRAINT task_idempotency DO NOTHING
  RETURNING t.task_id INTO v_task_id;

  IF v_task_id IS NULL THEN
    RETURN QUERY
    SELECT t.task_id, false, t.state FROM tasker.tasks t
    WHERE t.named_task_id = v_named_task_id AND t.idempotency_key = p_idempotency_key;
    RETURN;
  END IF;

  INSERT INTO tasker.workflow_steps
    (task_id, named_step_id, name, handler, step_type, state, inputs, max_attempts, max_deliveries,
     retryable, backoff_ms, max_backoff_ms, timeout_ms)
  SELECT v_task_id, ns.named_step_id, ns.name, ns.handler, ns.step_type, 'pending', ns.inputs,
         ns.max_attempts, ns.max_deliveries, ns.retryable, ns.backoff_ms, ns.max_backoff_ms, ns.timeout_ms
  FROM tasker.named_steps ns
  WHERE ns.named_task_id = v_named_task_id
  ORDER BY ns.position;

  INSERT INTO tasker.workflow_step_edges (task_id, from_step_id, to_step_id)
  SELECT v_task_id, parent.step_id, child.step_id
  FROM tasker.named_steps ns
  JOIN tasker.workflow_steps child ON child.task_id = v_task_id AND child.name = ns.name
  JOIN LATERAL unnest(ns.dependencies) AS dep(name) ON true
  JOIN tasker.workflow_steps parent ON parent.task_id = v_task_id AND parent.name = dep.name
  WHERE ns.named_task_id = v_named_task_id;

  SELECT array_agg(ws.step_id) INTO v_roots
  FROM tasker.workflow_steps ws
  WHERE ws.task_id = v_task_id
    AND NOT EXISTS (SELECT 1 FROM tasker.workflow_step_edges e WHERE e.to_step_id = ws.step_id);

  PERFORM tasker._set_actor(coalesce(p_initiator, 'client'), 'root step enqueued');
  PERFORM tasker._enqueue_steps(v_task_id, p_namespace, v_roots);

  PERFORM tasker._set_actor(coalesce(p_initiator, 'client'), 'root steps enqueued');
  UPDATE tasker.tasks t SET state = 'in_progress', updated_at = now() WHERE t.task_id = v_task_id;

  RETURN QUERY SELECT v_task_id, true, 'in_progress'::text;
END
$$;

-- tasker.sweep_task_timeouts: fails every unfinished task whose deadline passed, at most p_limit
-- per call: its steps that have not started are cancelled, the task moves to error with the
-- reason "timed out", and workers running its steps learn it from extend_leases (abort = true).
-- Safe to run from several orchestrators at once (locked tasks are skipped, not waited for).
CREATE FUNCTION tasker.sweep_task_timeouts(p_limit int DEFAULT 100, p_actor text DEFAULT 'sweeper')
RETURNS TABLE (task_id uuid, reason text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_task record;
  v_reason text;
BEGIN
  FOR v_task IN
    SELECT t.task_id, n.name AS namespace, t.created_at, t.deadline_at
    FROM tasker.tasks t JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
    WHERE t.deadline_at < now() AND t.state IN ('pending', 'in_progress')
    ORDER BY t.deadline_at
    LIMIT greatest(coalesce(p_limit, 100), 1)
    FOR NO KEY UPDATE OF t SKIP LOCKED
  LOOP
    v_reason := format('task timed out: its deadline of %s ms after creation passed',
                       round(extract(epoch FROM v_task.deadline_at - v_task.created_at) * 1000));
    PERFORM tasker._fail_task(v_task.task_id, v_task.namespace, p_actor, v_reason);
    RETURN QUERY SELECT v_task.task_id, v_reason;
  END LOOP;
END
$$;

-- tasker.retry_task: gives a task in error another run. Its failed (error) and cancelled steps
-- go back to pending with a fresh attempt count; the task moves to in_progress; every pending
-- step whose dependencies are all complete or skipped (and at least one complete, or none: a
-- root) is enqueued. Completed and skipped steps keep their results, so the task resumes where
-- it failed. A deadline is cleared. A task that is not in error is left as it is (changed =
-- false). Raises TK005 for an unknown task.
CREATE FUNCTION tasker.retry_task(p_task_id uuid, p_actor text DEFAULT 'client')
RETURNS TABLE (task_id uuid, state text, changed boolean, retried_steps int, enqueued_steps int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_state text;
  v_namespace text;
  v_retried int;
  v_ready uuid[];
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
