-- Template validation in time linear in its size (found by review: a 1,000-step chain written
-- root-last took 23 s to register, 3,000 steps over two minutes, so the documented limit of
-- 10,000 steps could not be registered at all).
--
-- _validate_template_fields (0002's validate_template, renamed by 0010) found duplicate names and
-- unknown dependencies by scanning the array of names for each step (quadratic), appended every
-- normalised step to a jsonb array (quadratic copying), and detected cycles by removing at most
-- one step per pass when steps are written root-last (cubic). Same checks, same errors in the
-- same order, same result; names are looked up in a name -> index object, steps are collected in
-- an array, and the cycle check is Kahn's algorithm over step indexes.

-- tasker._validate_template_fields: checks a template document and returns it normalised (every
-- step with all its settings filled in with defaults). Guarantees, or raises TK001/TK002 naming
-- the template, step and field: the namespace is valid; name and version are well formed; steps
-- is a non-empty array of at most 10000 objects with unique names, known handler-name syntax,
-- known types, and dependencies that name other steps of the template without any cycle; retry
-- and timeout settings are whole numbers in range. Changes nothing. validate_template (0039)
-- adds the version's canonical form and the batch rules.
CREATE OR REPLACE FUNCTION tasker._validate_template_fields(p_template jsonb) RETURNS jsonb
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
  v_out jsonb;
  v_items jsonb[] := '{}';
  -- (0040) name -> index of its first step, for lookups in O(log n) instead of scans of v_names
  v_pos jsonb;
  v_count int;
  v_max_attempts int;
  v_backoff int;
  v_max_backoff int;
  v_type text;
  v_handler text;
  v_inputs jsonb;
  -- cycle detection (Kahn's algorithm over step indexes, 1-based)
  v_indegree int[];
  v_succ_start int[];
  v_succ int[];
  v_queue int[];
  v_head int;
  v_tail int;
  v_node int;
  v_next int;
  v_k int;
  v_remaining text[];
  v_cycle text[] := '{}';
  v_seen int[];
  v_len int;
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

  v_count := jsonb_array_length(v_steps);
  SELECT coalesce(jsonb_object_agg(f.name, f.idx), '{}') INTO v_pos
  FROM (
    SELECT e.value ->> 'name' AS name, min(e.ordinality - 1) AS idx
    FROM jsonb_array_elements(v_steps) WITH ORDINALITY e
    WHERE jsonb_typeof(e.value) = 'object' AND jsonb_typeof(e.value -> 'name') = 'string'
    GROUP BY 1
  ) f;

  -- First pass: names, so dependencies can be checked against the full set.
  FOR v_index IN 0 .. v_count - 1 LOOP
    v_step := v_steps -> v_index;
    IF jsonb_typeof(v_step) <> 'object' THEN
      PERFORM tasker._template_error(v_ref, format('steps[%s]', v_index), 'must be an object');
    END IF;
    v_step_name := tasker._template_text(v_step, 'name', true, '^[a-z][a-z0-9_]{0,63}$',
      'a step name is 1 to 64 lowercase letters, digits or underscores, starting with a letter',
      v_ref, format('steps[%s].name', v_index));
    IF (v_pos ->> v_step_name)::int < v_index THEN
      PERFORM tasker._template_error(v_ref, format('steps[%s].name', v_index),
        format('duplicate step name "%s"', v_step_name));
    END IF;
    v_names[v_index + 1] := v_step_name;
  END LOOP;

  -- Second pass: everything else, normalised.
  FOR v_index IN 0 .. v_count - 1 LOOP
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
        IF NOT (v_pos ? (v_dep #>> '{}')) THEN
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

    v_items[v_index + 1] := jsonb_build_object(
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
        format('steps[%s] (%s).max_deliveries', v_index, v_step_name)));
  END LOOP;
  v_out := to_jsonb(v_items);

  -- Cycles (0040): Kahn's algorithm in O(steps + dependencies). Each step's in-degree is its
  -- number of dependencies; its successors are read from one array sorted by dependency
  -- (v_succ, the successors of step i at v_succ_start[i] .. v_succ_start[i + 1] - 1). Steps never
  -- reached from the roots lie on or behind a cycle: walking dependencies inside them must
  -- revisit a step, and the walk from that step back to itself is the cycle we report.
  SELECT array_agg(coalesce(d.n, 0) ORDER BY i.i) INTO v_indegree
  FROM generate_series(1, v_count) i(i)
  LEFT JOIN (SELECT s.ordinality AS i, jsonb_array_length(s.value -> 'dependencies') AS n
             FROM jsonb_array_elements(v_out) WITH ORDINALITY s) d ON d.i = i.i;
  WITH edges AS (
    SELECT (v_pos ->> d.name)::int + 1 AS pred, s.ordinality::int AS succ
    FROM jsonb_array_elements(v_out) WITH ORDINALITY s, jsonb_array_elements_text(s.value -> 'dependencies') d(name)
  )
  SELECT coalesce(array_agg(e.succ ORDER BY e.pred, e.succ), '{}') INTO v_succ FROM edges e;
  WITH edges AS (
    SELECT (v_pos ->> d.name)::int + 1 AS pred
    FROM jsonb_array_elements(v_out) s, jsonb_array_elements_text(s.value -> 'dependencies') d(name)
  ),
  out_degree AS (SELECT e.pred, count(*) AS n FROM edges e GROUP BY e.pred)
  SELECT array_agg(x.first ORDER BY x.i) INTO v_succ_start
  FROM (
    SELECT i.i, 1 + coalesce(sum(coalesce(o.n, 0)) OVER (ORDER BY i.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::int AS first
    FROM generate_series(1, v_count + 1) i(i) LEFT JOIN out_degree o ON o.pred = i.i
  ) x;
  v_queue := array_fill(0, ARRAY[v_count]);
  v_tail := 0;
  FOR v_node IN 1 .. v_count LOOP
    IF v_indegree[v_node] = 0 THEN
      v_tail := v_tail + 1;
      v_queue[v_tail] := v_node;
    END IF;
  END LOOP;
  v_head := 1;
  WHILE v_head <= v_tail LOOP
    v_node := v_queue[v_head];
    v_head := v_head + 1;
    FOR v_k IN v_succ_start[v_node] .. v_succ_start[v_node + 1] - 1 LOOP
      v_next := v_succ[v_k];
      v_indegree[v_next] := v_indegree[v_next] - 1;
      IF v_indegree[v_next] = 0 THEN
        v_tail := v_tail + 1;
        v_queue[v_tail] := v_next;
      END IF;
    END LOOP;
  END LOOP;
  v_remaining := ARRAY(SELECT v_names[i] FROM generate_series(1, v_count) i WHERE v_indegree[i] > 0 ORDER BY i);

  IF cardinality(v_remaining) > 0 THEN
    -- From the first step left, always to its dependency first by name among those left, until a
    -- step comes round again (v_seen: its position in the walk).
    v_seen := array_fill(0, ARRAY[v_count]);
    v_node := (v_pos ->> v_remaining[1])::int + 1;
    v_len := 0;
    LOOP
      v_len := v_len + 1;
      v_cycle[v_len] := v_names[v_node];
      v_seen[v_node] := v_len;
      SELECT min(d.name) INTO v_current
      FROM jsonb_array_elements_text(v_out -> (v_node - 1) -> 'dependencies') d(name)
      WHERE v_indegree[(v_pos ->> d.name)::int + 1] > 0;
      v_node := (v_pos ->> v_current)::int + 1;
      EXIT WHEN v_seen[v_node] > 0;
    END LOOP;
    v_cycle := v_cycle[v_seen[v_node]:v_len] || v_current;
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
