-- 0003: creating tasks and putting steps on their namespace queue.

-- tasker._step_message: the queue message for one attempt of one step. The message only names
-- the step; everything a handler needs is read from the tables when the step is claimed.
CREATE FUNCTION tasker._step_message(p_task_id uuid, p_step_id uuid, p_attempt int) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('task_id', p_task_id, 'step_id', p_step_id, 'attempt', p_attempt);
$$;

-- tasker._send_steps: sends one message per given step to p_queue, visible at p_visible_at (now
-- when NULL), and returns each step with its message id. Wakes listeners of the namespace on
-- channel tasker_queue_<namespace> with the delay in milliseconds as payload, so event-driven
-- workers can also schedule delayed messages. Does not change step rows.
CREATE FUNCTION tasker._send_steps(
  p_namespace text, p_task_id uuid, p_step_ids uuid[], p_attempts int[], p_visible_at timestamptz
) RETURNS TABLE (step_id uuid, msg_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_queue text := tasker.queue_name(p_namespace);
  v_index int;
  v_delay_ms bigint := greatest(0, floor(extract(epoch FROM
                         (coalesce(p_visible_at, clock_timestamp()) - clock_timestamp())) * 1000))::bigint;
BEGIN
  FOR v_index IN 1 .. coalesce(cardinality(p_step_ids), 0) LOOP
    step_id := p_step_ids[v_index];
    SELECT s INTO msg_id FROM pgmq.send(v_queue,
      tasker._step_message(p_task_id, p_step_ids[v_index], p_attempts[v_index]),
      coalesce(p_visible_at, clock_timestamp())) s;
    RETURN NEXT;
  END LOOP;
  IF coalesce(cardinality(p_step_ids), 0) > 0 THEN
    PERFORM pg_notify('tasker_queue_' || p_namespace, v_delay_ms::text);
  END IF;
END
$$;

-- tasker._enqueue_steps: moves the given pending steps of one task to enqueued and sends one
-- message for each (their current attempt). Steps not pending are left alone. Returns how many
-- were enqueued. The caller holds the task's lock.
CREATE FUNCTION tasker._enqueue_steps(p_task_id uuid, p_namespace text, p_step_ids uuid[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_ids uuid[];
  v_attempts int[];
  v_count int;
BEGIN
  SELECT array_agg(s.step_id ORDER BY s.step_id), array_agg(s.attempt ORDER BY s.step_id)
  INTO v_ids, v_attempts
  FROM tasker.workflow_steps s
  WHERE s.step_id = ANY (p_step_ids) AND s.task_id = p_task_id AND s.state = 'pending';
  IF v_ids IS NULL THEN
    RETURN 0;
  END IF;

  UPDATE tasker.workflow_steps w
  SET state = 'enqueued', msg_id = sent.msg_id, enqueued_at = now(), updated_at = now()
  FROM tasker._send_steps(p_namespace, p_task_id, v_ids, v_attempts, NULL) sent
  WHERE w.step_id = sent.step_id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

-- tasker.create_task: creates a task from a registered template in one transaction: the task,
-- one step per template step (settings copied, so later template changes do not affect it), the
-- dependency edges, and a queue message for every root step; the task is in_progress when this
-- returns. With an idempotency key that was already used for this template, it creates nothing
-- and returns the existing task with created = false. p_version NULL means the highest version.
-- Raises TK003 for an unknown template and TK004 when the context is not a JSON object.
-- (The template's input_schema is checked by the SDK before this call; see docs.)
CREATE FUNCTION tasker.create_task(
  p_namespace text,
  p_name text,
  p_version text,
  p_context jsonb,
  p_idempotency_key text DEFAULT NULL,
  p_correlation_id text DEFAULT NULL,
  p_priority int DEFAULT 0,
  p_tags text[] DEFAULT '{}',
  p_initiator text DEFAULT NULL
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

  PERFORM tasker._set_actor(coalesce(p_initiator, 'client'), 'task created');
  INSERT INTO tasker.tasks AS t
    (named_task_id, namespace_id, context, tags, priority, idempotency_key, correlation_id, initiator)
  VALUES (v_named_task_id, v_namespace_id, coalesce(p_context, '{}'), coalesce(p_tags, '{}'),
          coalesce(p_priority, 0), p_idempotency_key,
          coalesce(p_correlation_id, tasker.uuid_v7()::text), p_initiator)
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
