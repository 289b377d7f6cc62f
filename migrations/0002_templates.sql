-- 0002: namespaces and task templates.
--
-- Error codes raised by the protocol (class TK, mapped to typed errors by the SDK):
--   TK001 invalid template        TK002 invalid namespace      TK003 unknown template
--   TK004 invalid task input      TK005 unknown task           TK006 unknown namespace
--   TK007 invalid argument        TK100 illegal state transition
-- Errors carry a DETAIL that is a JSON object naming the offending field.

-- tasker.queue_name: returns the PGMQ queue name of a namespace. Guarantees the name it returns
-- is built from a namespace matching ^[a-z][a-z0-9_]{0,33}$ only (so it is safe to hand to PGMQ,
-- which interpolates queue names into SQL, and within PGMQ's 47-character limit); anything else
-- raises TK002 before PGMQ is reached.
CREATE FUNCTION tasker.queue_name(p_namespace text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_namespace IS NULL OR p_namespace !~ '^[a-z][a-z0-9_]{0,33}$' THEN
    RAISE EXCEPTION 'invalid namespace %: a namespace is 1 to 34 lowercase letters, digits or underscores, starting with a letter',
      coalesce(quote_literal(p_namespace), 'NULL')
      USING ERRCODE = 'TK002',
            DETAIL = json_build_object('field', 'namespace', 'value', p_namespace)::text;
  END IF;
  RETURN 'worker_' || p_namespace || '_queue';
END
$$;

-- tasker.ensure_namespace: returns the id of the namespace, creating it and its PGMQ queue
-- (worker_<namespace>_queue) the first time. Safe under concurrent callers: exactly one row and
-- one queue result. Invalid names raise TK002 and create nothing.
CREATE FUNCTION tasker.ensure_namespace(p_namespace text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_queue text := tasker.queue_name(p_namespace);
  v_id uuid;
BEGIN
  SELECT namespace_id INTO v_id FROM tasker.namespaces WHERE name = p_namespace;
  IF FOUND THEN
    RETURN v_id;
  END IF;
  INSERT INTO tasker.namespaces (name) VALUES (p_namespace)
  ON CONFLICT (name) DO NOTHING
  RETURNING namespace_id INTO v_id;
  IF v_id IS NULL THEN
    SELECT namespace_id INTO v_id FROM tasker.namespaces WHERE name = p_namespace;
    RETURN v_id;
  END IF;
  PERFORM pgmq.create(v_queue);
  RETURN v_id;
END
$$;

-- tasker._template_error: raises TK001 naming the template, the field and the problem. Never returns.
CREATE FUNCTION tasker._template_error(p_ref text, p_field text, p_problem text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'invalid template %: %: %', p_ref, p_field, p_problem
    USING ERRCODE = 'TK001',
          DETAIL = json_build_object('template', p_ref, 'field', p_field, 'problem', p_problem)::text;
END
$$;

-- tasker._template_int: reads an optional integer field; returns p_default when absent and raises
-- TK001 naming the field when it is not a whole number within [p_min, p_max].
CREATE FUNCTION tasker._template_int(
  p_obj jsonb, p_key text, p_default int, p_min int, p_max int, p_ref text, p_field text
) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_value jsonb := p_obj -> p_key;
BEGIN
  IF v_value IS NULL OR v_value = 'null'::jsonb THEN
    RETURN p_default;
  END IF;
  IF jsonb_typeof(v_value) <> 'number' OR v_value::text !~ '^-?[0-9]{1,10}$'
     OR v_value::text::bigint < p_min OR v_value::text::bigint > p_max THEN
    PERFORM tasker._template_error(p_ref, p_field,
      format('must be a whole number from %s to %s, got %s', p_min, p_max, v_value::text));
  END IF;
  RETURN v_value::text::int;
END
$$;

-- tasker._template_text: reads a required (or optional, when p_pattern_hint is NULL-safe) string
-- field; raises TK001 naming the field when it is missing, not a string, or does not match p_pattern.
CREATE FUNCTION tasker._template_text(
  p_obj jsonb, p_key text, p_required boolean, p_pattern text, p_pattern_hint text,
  p_ref text, p_field text
) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_value jsonb := p_obj -> p_key;
BEGIN
  IF v_value IS NULL OR v_value = 'null'::jsonb THEN
    IF p_required THEN
      PERFORM tasker._template_error(p_ref, p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v_value) <> 'string' THEN
    PERFORM tasker._template_error(p_ref, p_field,
      format('must be a string, got %s', jsonb_typeof(v_value)));
  END IF;
  IF p_pattern IS NOT NULL AND (v_value #>> '{}') !~ p_pattern THEN
    PERFORM tasker._template_error(p_ref, p_field,
      format('%s is not valid: %s', v_value::text, p_pattern_hint));
  END IF;
  RETURN v_value #>> '{}';
END
$$;

-- tasker.validate_template: checks a template document and returns it normalised (every step
-- with all its settings filled in with defaults). Guarantees, or raises TK001/TK002 naming the
-- template, step and field: the namespace is valid; name and version are well formed; steps is a
-- non-empty array of objects with unique names, known handler-name syntax, known types, and
-- dependencies that name other steps of the template without any cycle; retry and timeout
-- settings are whole numbers in range. Changes nothing.
CREATE FUNCTION tasker.validate_template(p_template jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_ref text;
  v_namespace text;
  v_name text;
  v_version text;
  v_steps jsonb;
  v_step jsonb;
  v_retry jsonb;
  v_index int;
  v_dep_index int;
  v_step_name text;
  v_dep jsonb;
  v_names text[] := '{}';
  v_deps text[];
  v_out jsonb := '[]';
  v_max_attempts int;
  v_backoff int;
  v_max_backoff int;
  v_type text;
  v_handler text;
  v_inputs jsonb;
  -- cycle detection
  v_remaining text[];
  v_progress boolean;
  v_cycle text[];
  v_current text;
BEGIN
  IF p_template IS NULL OR jsonb_typeof(p_template) <> 'object' THEN
    RAISE EXCEPTION 'invalid template: a template must be a JSON object'
      USING ERRCODE = 'TK001', DETAIL = json_build_object('field', '')::text;
  END IF;

  v_namespace := p_template ->> 'namespace';
  v_name := p_template ->> 'name';
  v_version := p_template ->> 'version';
  v_ref := format('%s/%s@%s', coalesce(v_namespace, '?'), coalesce(v_name, '?'), coalesce(v_version, '?'));

  IF p_template -> 'namespace' IS NULL OR jsonb_typeof(p_template -> 'namespace') <> 'string' THEN
    PERFORM tasker._template_error(v_ref, 'namespace', 'is required and must be a string');
  END IF;
  BEGIN
    PERFORM tasker.queue_name(v_namespace);
  EXCEPTION WHEN SQLSTATE 'TK002' THEN
    PERFORM tasker._template_error(v_ref, 'namespace', format(
      '%s is not valid: a namespace is 1 to 34 lowercase letters, digits or underscores, starting with a letter (it becomes part of the PGMQ queue name)',
      quote_literal(v_namespace)));
  END;
  PERFORM tasker._template_text(p_template, 'name', true, '^[a-z][a-z0-9_]{0,63}$',
    'a task name is 1 to 64 lowercase letters, digits or underscores, starting with a letter', v_ref, 'name');
  PERFORM tasker._template_text(p_template, 'version', true, '^[0-9]{1,6}\.[0-9]{1,6}\.[0-9]{1,6}$',
    'a version is MAJOR.MINOR.PATCH, e.g. 1.0.0', v_ref, 'version');
  PERFORM tasker._template_text(p_template, 'description', false, NULL, NULL, v_ref, 'description');
  IF p_template ? 'input_schema' AND p_template -> 'input_schema' <> 'null'::jsonb
     AND jsonb_typeof(p_template -> 'input_schema') NOT IN ('object', 'boolean') THEN
    PERFORM tasker._template_error(v_ref, 'input_schema', 'must be a JSON Schema (an object)');
  END IF;

  v_steps := p_template -> 'steps';
  IF v_steps IS NULL OR jsonb_typeof(v_steps) <> 'array' OR jsonb_array_length(v_steps) = 0 THEN
    PERFORM tasker._template_error(v_ref, 'steps', 'must be a non-empty array of steps');
  END IF;
  IF jsonb_array_length(v_steps) > 10000 THEN
    PERFORM tasker._template_error(v_ref, 'steps', 'has more than 10000 steps');
  END IF;

  -- First pass: names, so dependencies can be checked against the full set.
  FOR v_index IN 0 .. jsonb_array_length(v_steps) - 1 LOOP
    v_step := v_steps -> v_index;
    IF jsonb_typeof(v_step) <> 'object' THEN
      PERFORM tasker._template_error(v_ref, format('steps[%s]', v_index), 'must be an object');
    END IF;
    v_step_name := tasker._template_text(v_step, 'name', true, '^[a-z][a-z0-9_]{0,63}$',
      'a step name is 1 to 64 lowercase letters, digits or underscores, starting with a letter',
      v_ref, format('steps[%s].name', v_index));
    IF v_step_name = ANY (v_names) THEN
      PERFORM tasker._template_error(v_ref, format('steps[%s].name', v_index),
        format('duplicate step name "%s"', v_step_name));
    END IF;
    v_names := v_names || v_step_name;
  END LOOP;

  -- Second pass: everything else, normalised.
  FOR v_index IN 0 .. jsonb_array_length(v_steps) - 1 LOOP
    v_step := v_steps -> v_index;
    v_step_name := v_step ->> 'name';
    v_handler := tasker._template_text(v_step, 'handler', true, '^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$',
      'a handler name is up to 128 letters, digits and _ . : / -, starting with a letter or _',
      v_ref, format('steps[%s] (%s).handler', v_index, v_step_name));
    v_type := coalesce(tasker._template_text(v_step, 'type', false,
      '^(standard|decision|batch)$', 'the step types are standard, decision and batch',
      v_ref, format('steps[%s] (%s).type', v_index, v_step_name)), 'standard');

    v_deps := '{}';
    IF v_step ? 'dependencies' AND v_step -> 'dependencies' <> 'null'::jsonb THEN
      IF jsonb_typeof(v_step -> 'dependencies') <> 'array' THEN
        PERFORM tasker._template_error(v_ref, format('steps[%s] (%s).dependencies', v_index, v_step_name),
          'must be an array of step names');
      END IF;
      FOR v_dep_index IN 0 .. jsonb_array_length(v_step -> 'dependencies') - 1 LOOP
        v_dep := v_step -> 'dependencies' -> v_dep_index;
        IF jsonb_typeof(v_dep) <> 'string' THEN
          PERFORM tasker._template_error(v_ref,
            format('steps[%s] (%s).dependencies[%s]', v_index, v_step_name, v_dep_index),
            'must be a step name (a string)');
        END IF;
        IF (v_dep #>> '{}') = v_step_name THEN
          PERFORM tasker._template_error(v_ref,
            format('steps[%s] (%s).dependencies[%s]', v_index, v_step_name, v_dep_index),
            format('step "%s" depends on itself', v_step_name));
        END IF;
        IF NOT ((v_dep #>> '{}') = ANY (v_names)) THEN
          PERFORM tasker._template_error(v_ref,
            format('steps[%s] (%s).dependencies[%s]', v_index, v_step_name, v_dep_index),
            format('step "%s" depends on unknown step "%s"', v_step_name, v_dep #>> '{}'));
        END IF;
        IF (v_dep #>> '{}') = ANY (v_deps) THEN
          PERFORM tasker._template_error(v_ref,
            format('steps[%s] (%s).dependencies[%s]', v_index, v_step_name, v_dep_index),
            format('step "%s" lists dependency "%s" twice', v_step_name, v_dep #>> '{}'));
        END IF;
        v_deps := v_deps || (v_dep #>> '{}');
      END LOOP;
    END IF;

    v_retry := coalesce(v_step -> 'retry', '{}');
    IF jsonb_typeof(v_retry) <> 'object' THEN
      PERFORM tasker._template_error(v_ref, format('steps[%s] (%s).retry', v_index, v_step_name),
        'must be an object with max_attempts, backoff_ms, max_backoff_ms, retryable');
    END IF;
    v_max_attempts := tasker._template_int(v_retry, 'max_attempts', 3, 1, 1000, v_ref,
      format('steps[%s] (%s).retry.max_attempts', v_index, v_step_name));
    v_backoff := tasker._template_int(v_retry, 'backoff_ms', 1000, 0, 86400000, v_ref,
      format('steps[%s] (%s).retry.backoff_ms', v_index, v_step_name));
    v_max_backoff := tasker._template_int(v_retry, 'max_backoff_ms', greatest(v_backoff, 60000), 0, 86400000, v_ref,
      format('steps[%s] (%s).retry.max_backoff_ms', v_index, v_step_name));
    IF v_max_backoff < v_backoff THEN
      PERFORM tasker._template_error(v_ref, format('steps[%s] (%s).retry.max_backoff_ms', v_index, v_step_name),
        format('must be at least backoff_ms (%s), got %s', v_backoff, v_max_backoff));
    END IF;
    IF v_retry ? 'retryable' AND jsonb_typeof(v_retry -> 'retryable') <> 'boolean' THEN
      PERFORM tasker._template_error(v_ref, format('steps[%s] (%s).retry.retryable', v_index, v_step_name),
        'must be true or false');
    END IF;
    v_inputs := coalesce(v_step -> 'inputs', '{}');
    IF jsonb_typeof(v_inputs) <> 'object' THEN
      PERFORM tasker._template_error(v_ref, format('steps[%s] (%s).inputs', v_index, v_step_name),
        'must be an object');
    END IF;

    v_out := v_out || jsonb_build_array(jsonb_build_object(
      'name', v_step_name,
      'handler', v_handler,
      'type', v_type,
      'dependencies', to_jsonb(v_deps),
      'inputs', v_inputs,
      'retry', jsonb_build_object(
        'max_attempts', v_max_attempts,
        'backoff_ms', v_backoff,
        'max_backoff_ms', v_max_backoff,
        'retryable', coalesce((v_retry -> 'retryable')::boolean, true)),
      'timeout_ms', tasker._template_int(v_step, 'timeout_ms', 30000, 1, 86400000, v_ref,
        format('steps[%s] (%s).timeout_ms', v_index, v_step_name)),
      'max_deliveries', tasker._template_int(v_step, 'max_deliveries', 5, 1, 1000, v_ref,
        format('steps[%s] (%s).max_deliveries', v_index, v_step_name))));
  END LOOP;

  -- Cycles: repeatedly remove steps whose dependencies are all removed (Kahn). Whatever remains
  -- lies on or behind a cycle; walking dependencies inside the remainder must revisit a step,
  -- and the walk from that step back to itself is the cycle we report.
  v_remaining := v_names;
  LOOP
    v_progress := false;
    FOR v_index IN 0 .. jsonb_array_length(v_out) - 1 LOOP
      v_step_name := v_out -> v_index ->> 'name';
      CONTINUE WHEN NOT (v_step_name = ANY (v_remaining));
      IF NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements_text(v_out -> v_index -> 'dependencies') d(name)
        WHERE d.name = ANY (v_remaining)
      ) THEN
        v_remaining := array_remove(v_remaining, v_step_name);
        v_progress := true;
      END IF;
    END LOOP;
    EXIT WHEN NOT v_progress OR cardinality(v_remaining) = 0;
  END LOOP;

  IF cardinality(v_remaining) > 0 THEN
    v_current := v_remaining[1];
    v_cycle := ARRAY[v_current];
    LOOP
      SELECT d.name INTO v_current
      FROM jsonb_array_elements(v_out) s, jsonb_array_elements_text(s -> 'dependencies') d(name)
      WHERE s ->> 'name' = v_current AND d.name = ANY (v_remaining)
      ORDER BY d.name LIMIT 1;
      EXIT WHEN v_current = ANY (v_cycle);
      v_cycle := v_cycle || v_current;
    END LOOP;
    v_cycle := v_cycle[array_position(v_cycle, v_current):] || v_current;
    PERFORM tasker._template_error(v_ref, 'steps',
      format('dependency cycle: %s', array_to_string(v_cycle, ' depends on ')));
  END IF;

  RETURN jsonb_build_object(
    'namespace', v_namespace,
    'name', v_name,
    'version', v_version,
    'description', p_template -> 'description',
    'input_schema', p_template -> 'input_schema',
    'steps', v_out);
END
$$;

-- tasker.register_template: validates a template (see validate_template) and upserts it with its
-- named steps, creating the namespace and its queue when new. Registering an identical
-- definition again changes nothing (changed = false). Registering a different definition under
-- the same namespace/name/version replaces it for tasks created afterwards; tasks already
-- created keep the step settings they were created with.
CREATE FUNCTION tasker.register_template(p_template jsonb)
RETURNS TABLE (named_task_id uuid, namespace text, name text, version text, changed boolean)
LANGUAGE plpgsql AS $$
DECLARE
  v_def jsonb := tasker.validate_template(p_template);
  v_hash text := md5(v_def::text);
  v_namespace_id uuid;
  v_task_id uuid;
  v_existing_hash text;
BEGIN
  v_namespace_id := tasker.ensure_namespace(v_def ->> 'namespace');

  -- Serialise registrations of the same template so concurrent upserts cannot interleave.
  PERFORM pg_advisory_xact_lock(hashtextextended(v_def ->> 'namespace' || '/' || (v_def ->> 'name')
                                                  || '@' || (v_def ->> 'version'), 0));

  SELECT nt.named_task_id, nt.definition_hash INTO v_task_id, v_existing_hash
  FROM tasker.named_tasks nt
  WHERE nt.namespace_id = v_namespace_id AND nt.name = v_def ->> 'name' AND nt.version = v_def ->> 'version';

  IF FOUND AND v_existing_hash = v_hash THEN
    RETURN QUERY SELECT v_task_id, v_def ->> 'namespace', v_def ->> 'name', v_def ->> 'version', false;
    RETURN;
  END IF;

  IF v_task_id IS NULL THEN
    INSERT INTO tasker.named_tasks AS nt
      (namespace_id, name, version, description, input_schema, definition, definition_hash)
    VALUES (v_namespace_id, v_def ->> 'name', v_def ->> 'version', v_def ->> 'description',
            nullif(v_def -> 'input_schema', 'null'::jsonb), v_def, v_hash)
    RETURNING nt.named_task_id INTO v_task_id;
  ELSE
    UPDATE tasker.named_tasks nt
    SET description = v_def ->> 'description',
        input_schema = nullif(v_def -> 'input_schema', 'null'::jsonb),
        definition = v_def, definition_hash = v_hash, updated_at = now()
    WHERE nt.named_task_id = v_task_id;
    DELETE FROM tasker.named_steps ns
    WHERE ns.named_task_id = v_task_id
      AND ns.name NOT IN (SELECT s ->> 'name' FROM jsonb_array_elements(v_def -> 'steps') s);
  END IF;

  INSERT INTO tasker.named_steps AS ns
    (named_task_id, name, position, handler, step_type, dependencies, inputs,
     max_attempts, retryable, backoff_ms, max_backoff_ms, timeout_ms, max_deliveries)
  SELECT v_task_id, s ->> 'name', (ord - 1)::int, s ->> 'handler', s ->> 'type',
         ARRAY(SELECT jsonb_array_elements_text(s -> 'dependencies')), s -> 'inputs',
         (s -> 'retry' ->> 'max_attempts')::int, (s -> 'retry' ->> 'retryable')::boolean,
         (s -> 'retry' ->> 'backoff_ms')::int, (s -> 'retry' ->> 'max_backoff_ms')::int,
         (s ->> 'timeout_ms')::int, (s ->> 'max_deliveries')::int
  FROM jsonb_array_elements(v_def -> 'steps') WITH ORDINALITY AS t(s, ord)
  ON CONFLICT ON CONSTRAINT named_steps_named_task_id_name_key DO UPDATE
  SET position = excluded.position, handler = excluded.handler, step_type = excluded.step_type,
      dependencies = excluded.dependencies, inputs = excluded.inputs,
      max_attempts = excluded.max_attempts, retryable = excluded.retryable,
      backoff_ms = excluded.backoff_ms, max_backoff_ms = excluded.max_backoff_ms,
      timeout_ms = excluded.timeout_ms, max_deliveries = excluded.max_deliveries;

  RETURN QUERY SELECT v_task_id, v_def ->> 'namespace', v_def ->> 'name', v_def ->> 'version', true;
END
$$;
