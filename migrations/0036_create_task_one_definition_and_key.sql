-- create_task against a template that changes, found by a review (test/template/):
--
-- 1. One definition per task. create_task reads the template's steps in several statements and
--    register_template could replace a definition (same version) in between: a task got its root
--    steps from the old definition and its edges from the new one, and could never finish (an
--    enqueued step depending on a pending one with no parent). create_task now holds a shared
--    advisory lock on the template version for its transaction, the one register_template takes
--    exclusively (0002), so a registration waits for creations under way and they for it.
-- 2. Checked against the definition it creates. The client checks a context against the
--    input_schema it read (and caches for a few seconds); a newer version or a re-registration
--    since then created the task under a schema nobody checked. template_input_schema now also
--    returns the definition's hash, and create_task refuses (TK008) when given a hash that is not
--    the one of the version it picks; the client then reads the schema again.
-- 3. Idempotency keys hold across versions. The key was unique per template version, so a
--    request repeated after a deploy registered a new version created a second task. The key now
--    names one task per template (namespace and name): create_task looks for it in every version,
--    under an advisory lock on the key so two creations with it cannot both miss.
-- 4. A step that is not retryable has one attempt per run: create_task gives it max_attempts 1,
--    so isLastAttempt is true on the attempt that is in fact its last (the template's
--    max_attempts could say 3 while any failure ends the step).

DROP FUNCTION tasker.template_input_schema(text, text, text);
-- tasker.template_input_schema: the version create_task would pick, its input_schema, and the
-- hash of its definition, to hand back to create_task as p_definition_hash. Reads only.
CREATE FUNCTION tasker.template_input_schema(p_namespace text, p_name text, p_version text)
RETURNS TABLE (version text, input_schema jsonb, definition_hash text)
LANGUAGE sql STABLE AS $$
  SELECT nt.version, nt.input_schema, nt.definition_hash
  FROM tasker.named_tasks nt JOIN tasker.namespaces n ON n.namespace_id = nt.namespace_id
  WHERE n.name = p_namespace AND nt.name = p_name AND (p_version IS NULL OR nt.version = p_version)
  ORDER BY nt.version_sort DESC
  LIMIT 1;
$$;

DROP FUNCTION tasker.create_task(text, text, text, jsonb, text, text, int, text[], text, bigint);
-- tasker.create_task: 0025's body with the four changes above. Guarantees: one transaction
-- creates the task, its steps (settings copied from one definition of the template), its edges
-- and one message per root step; an idempotency key already used for any version of the template
-- returns that task (created = false), also under concurrent calls; with p_definition_hash, the
-- task is created only from the definition with that hash (TK008 otherwise, nothing created).
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
  p_timeout_ms bigint DEFAULT NULL,
  p_definition_hash text DEFAULT NULL
) RETURNS TABLE (task_id uuid, created boolean, state text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
  v_namespace_id uuid;
  v_named_task_id uuid;
  v_version text;
  v_hash text;
  v_task_id uuid;
  v_state text;
  v_named uuid[];
  v_ids uuid[];
  v_roots uuid[];
  v_msgs bigint[];
BEGIN
  PERFORM tasker.queue_name(p_namespace);
  SELECT n.namespace_id INTO v_namespace_id FROM tasker.namespaces n WHERE n.name = p_namespace;
  SELECT nt.named_task_id, nt.version INTO v_named_task_id, v_version
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

  -- (3) A key names one task of this template, whatever its version.
  IF p_idempotency_key IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(
      'tasker.idempotency:' || p_namespace || '/' || p_name || ':' || p_idempotency_key, 0));
    SELECT t.task_id, t.state INTO v_task_id, v_state
    FROM tasker.named_tasks nt
    JOIN tasker.tasks t ON t.named_task_id = nt.named_task_id AND t.idempotency_key = p_idempotency_key
    WHERE nt.namespace_id = v_namespace_id AND nt.name = p_name
    LIMIT 1;
    IF v_task_id IS NOT NULL THEN
      RETURN QUERY SELECT v_task_id, false, v_state;
      RETURN;
    END IF;
  END IF;

  -- (1) The key register_template locks exclusively (0002). Every statement below starts after
  -- any registration of this version committed, and none can commit until this transaction ends.
  PERFORM pg_advisory_xact_lock_shared(hashtextextended(p_namespace || '/' || p_name || '@' || v_version, 0));
  -- (2) Only from the definition the caller checked the context against.
  IF p_definition_hash IS NOT NULL THEN
    SELECT nt.definition_hash INTO v_hash FROM tasker.named_tasks nt WHERE nt.named_task_id = v_named_task_id;
    IF v_hash IS DISTINCT FROM p_definition_hash THEN
      RAISE EXCEPTION 'task template %/%@% is not the definition the context was checked against (registered again since)',
        p_namespace, p_name, v_version
        USING ERRCODE = 'TK008',
              DETAIL = json_build_object('namespace', p_namespace, 'name', p_name, 'version', v_version)::text;
    END IF;
  END IF;

  PERFORM tasker._set_actor(coalesce(p_initiator, 'client'), 'task created'),
          set_config('tasker.then_reason', 'root steps enqueued', true);
  INSERT INTO tasker.tasks AS t
    (named_task_id, namespace_id, context, tags, priority, idempotency_key, correlation_id, initiator,
     deadline_at, state)
  VALUES (v_named_task_id, v_namespace_id, coalesce(p_context, '{}'), coalesce(p_tags, '{}'),
          coalesce(p_priority, 0), p_idempotency_key,
          coalesce(p_correlation_id, tasker.uuid_v7()::text), p_initiator,
          now() + make_interval(secs => p_timeout_ms / 1000.0), 'in_progress')
  ON CONFLICT ON CONSTRAINT task_idempotency DO NOTHING
  RETURNING t.task_id INTO v_task_id;

  IF v_task_id IS NULL THEN
    PERFORM set_config('tasker.then_reason', '', true);
    RETURN QUERY
    SELECT t.task_id, false, t.state FROM tasker.tasks t
    WHERE t.named_task_id = v_named_task_id AND t.idempotency_key = p_idempotency_key;
    RETURN;
  END IF;

  -- Step ids first (uuid v7 in template order, as the column default gave them), so the root
  -- steps' messages are sent before their rows exist and every row is written once.
  SELECT array_agg(x.named_step_id ORDER BY x.position), array_agg(x.step_id ORDER BY x.position),
         coalesce(array_agg(x.step_id ORDER BY x.step_id) FILTER (WHERE x.root), '{}')
  INTO v_named, v_ids, v_roots
  FROM (SELECT ns.named_step_id, ns.position, tasker.uuid_v7() AS step_id,
               cardinality(ns.dependencies) = 0 AS root
        FROM tasker.named_steps ns
        WHERE ns.named_task_id = v_named_task_id
        ORDER BY ns.position) x;
  v_msgs := tasker._send_step_messages(p_namespace, array_fill(v_task_id, ARRAY[cardinality(v_roots)]),
                                       v_roots, array_fill(1, ARRAY[cardinality(v_roots)]), NULL);

  PERFORM set_config('tasker.then_reason', 'root step enqueued', true);
  INSERT INTO tasker.workflow_steps
    (step_id, task_id, named_step_id, name, handler, step_type, state, msg_id, enqueued_at, inputs,
     max_attempts, max_deliveries, retryable, backoff_ms, max_backoff_ms, timeout_ms)
  SELECT x.step_id, v_task_id, ns.named_step_id, ns.name, ns.handler, ns.step_type,
         CASE WHEN x.step_id = ANY (v_roots) THEN 'enqueued' ELSE 'pending' END,
         v_msgs[array_position(v_roots, x.step_id)],
         CASE WHEN x.step_id = ANY (v_roots) THEN now() END,
         -- (4) Any failure ends a step that is not retryable: its first attempt is its last.
         ns.inputs, CASE WHEN ns.retryable THEN ns.max_attempts ELSE 1 END, ns.max_deliveries,
         ns.retryable, ns.backoff_ms, ns.max_backoff_ms, ns.timeout_ms
  FROM unnest(v_named, v_ids) WITH ORDINALITY AS x(named_step_id, step_id, ord)
  JOIN tasker.named_steps ns ON ns.named_step_id = x.named_step_id
  ORDER BY x.ord;
  PERFORM set_config('tasker.then_reason', '', true);

  INSERT INTO tasker.workflow_step_edges (task_id, from_step_id, to_step_id)
  SELECT v_task_id, parent.step_id, child.step_id
  FROM tasker.named_steps ns
  JOIN tasker.workflow_steps child ON child.task_id = v_task_id AND child.name = ns.name
  JOIN LATERAL unnest(ns.dependencies) AS dep(name) ON true
  JOIN tasker.workflow_steps parent ON parent.task_id = v_task_id AND parent.name = dep.name
  WHERE ns.named_task_id = v_named_task_id;

  PERFORM tasker._notify_queue(p_namespace, v_roots);

  RETURN QUERY SELECT v_task_id, true, 'in_progress'::text;
END
$$;
