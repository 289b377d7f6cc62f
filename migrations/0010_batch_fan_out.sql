-- 0010: batch fan-out. A step of type batch completes with a list of items; in the same
-- transaction its batch worker step (its only successor, depending on it alone) is replaced by
-- one instance per item, and the steps after the worker step (the convergence steps) run once
-- every instance completed.
--
-- The shape, once a batch step "split" with worker "process_chunk" and convergence "merge"
-- completes with three items:
--
--   template:  split ─→ process_chunk ─→ merge
--   task:      split ─┬→ process_chunk[0] ─┐
--                     ├→ process_chunk[1] ─┼→ merge
--                     ├→ process_chunk[2] ─┘    ↑
--                     └─────────────────────────┘   (split → merge: so zero items still run merge)
--              process_chunk: skipped, reason "replaced by 3 batch instances ..."
--
-- Why it is built this way:
--   * The worker step exists in the task from create_task on, with its settings copied like any
--     step's, so the instances get the settings the task was created with even if the template is
--     registered again later. When the batch completes it is retired (pending -> skipped, with the
--     reason in its transition) rather than deleted, so the task's history stays whole.
--   * Each convergence step gets an edge from the batch step itself. With zero items it then
--     depends on a complete step and a skipped one and runs (a join whose parents were all
--     skipped would be skipped); with items it also receives the batch step's result.
--   * Instances are ordinary standard steps (pending, then enqueued by _advance), so claiming,
--     leases, retries, cancellation, the sweepers and retry_task treat them like any step, and
--     the task lock every report takes makes exactly one instance report enqueue a convergence
--     step.
--   * A batch step whose success arrives after its task stopped running (failed, cancelled) ends
--     cancelled instead of complete: its items are not applied to a stopped task, and retry_task
--     puts cancelled steps back, so a retried task runs the batch step again rather than leaving
--     its worker step waiting behind a complete step that never fanned out.
--
-- A fan-out changes thousands of rows in one statement, which two hot-path pieces handled in n²
-- time: _enqueue_steps_many and the transition-log triggers are replaced at the end of this file
-- by versions linear in the rows changed (their comments say why).

-- ---------------------------------------------------------------------------------------------
-- Templates: the rules of batch steps
-- ---------------------------------------------------------------------------------------------

-- validate_template (0002) keeps its checks under a new name; the new validate_template adds the
-- batch rules after them, so a template is checked field by field first and as a whole after.
ALTER FUNCTION tasker.validate_template(jsonb) RENAME TO _validate_template_fields;

-- tasker._check_batch_steps: for a template already normalised by _validate_template_fields,
-- guarantees, or raises TK001 naming the template, step and field, that every batch step has
-- exactly one successor (its batch worker step), that the worker step depends on the batch step
-- alone and is a standard step. The worker is the first successor (in template order) depending
-- on the batch step alone, else the first successor; any other successor is the mistake named.
-- Changes nothing.
CREATE FUNCTION tasker._check_batch_steps(p_def jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_ref text := format('%s/%s@%s', p_def ->> 'namespace', p_def ->> 'name', p_def ->> 'version');
  v_batch record;
  v_worker record;
  v_other record;
  v_extra record;
BEGIN
  FOR v_batch IN
    SELECT (t.ord - 1)::int AS idx, t.s ->> 'name' AS name
    FROM jsonb_array_elements(p_def -> 'steps') WITH ORDINALITY AS t(s, ord)
    WHERE t.s ->> 'type' = 'batch'
    ORDER BY t.ord
  LOOP
    -- Successors in template order, each with the position of the batch step in its dependencies.
    SELECT (t.ord - 1)::int AS idx, t.s ->> 'name' AS name, t.s ->> 'type' AS type, t.s -> 'dependencies' AS deps
    INTO v_worker
    FROM jsonb_array_elements(p_def -> 'steps') WITH ORDINALITY AS t(s, ord)
    WHERE (t.s -> 'dependencies') ? v_batch.name
    ORDER BY (t.s -> 'dependencies') = jsonb_build_array(v_batch.name) DESC, t.ord
    LIMIT 1;
    IF NOT FOUND THEN
      PERFORM tasker._template_error(v_ref, format('steps[%s] (%s).type', v_batch.idx, v_batch.name),
        format('a batch step needs exactly one successor, its batch worker step (a step whose only dependency is "%s"); no step depends on "%s"',
               v_batch.name, v_batch.name));
    END IF;

    SELECT (t.ord - 1)::int AS idx, t.s ->> 'name' AS name,
           (SELECT (d.pos - 1)::int FROM jsonb_array_elements_text(t.s -> 'dependencies') WITH ORDINALITY AS d(dep, pos)
            WHERE d.dep = v_batch.name) AS dep_idx
    INTO v_other
    FROM jsonb_array_elements(p_def -> 'steps') WITH ORDINALITY AS t(s, ord)
    WHERE (t.s -> 'dependencies') ? v_batch.name AND (t.ord - 1) <> v_worker.idx
    ORDER BY t.ord
    LIMIT 1;
    IF FOUND THEN
      PERFORM tasker._template_error(v_ref,
        format('steps[%s] (%s).dependencies[%s]', v_other.idx, v_other.name, v_other.dep_idx),
        format('step "%s" depends on batch step "%s", whose only successor must be its batch worker step "%s"; make "%s" depend on "%s" instead (it then runs after every batch instance, with their results and the result of "%s")',
               v_other.name, v_batch.name, v_worker.name, v_other.name, v_worker.name, v_batch.name));
    END IF;

    SELECT (d.pos - 1)::int AS dep_idx, d.dep INTO v_extra
    FROM jsonb_array_elements_text(v_worker.deps) WITH ORDINALITY AS d(dep, pos)
    WHERE d.dep <> v_batch.name
    ORDER BY d.pos
    LIMIT 1;
    IF FOUND THEN
      PERFORM tasker._template_error(v_ref,
        format('steps[%s] (%s).dependencies[%s]', v_worker.idx, v_worker.name, v_extra.dep_idx),
        format('step "%s" is the batch worker step of "%s" and must depend on "%s" alone (its instances are created when "%s" completes); it also depends on "%s"',
               v_worker.name, v_batch.name, v_batch.name, v_batch.name, v_extra.dep));
    END IF;

    IF v_worker.type <> 'standard' THEN
      PERFORM tasker._template_error(v_ref, format('steps[%s] (%s).type', v_worker.idx, v_worker.name),
        format('the batch worker step of "%s" must be a standard step (one instance of it runs per batch item), got "%s"',
               v_batch.name, v_worker.type));
    END IF;
  END LOOP;
END
$$;

-- tasker.validate_template: everything 0002's validate_template guarantees (now
-- _validate_template_fields), plus the batch rules of _check_batch_steps. Returns the template
-- normalised with defaults, or raises TK001/TK002 naming the template, step and field. Changes
-- nothing. register_template calls it by name, so registrations get the batch rules too.
CREATE FUNCTION tasker.validate_template(p_template jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_def jsonb := tasker._validate_template_fields(p_template);
BEGIN
  PERFORM tasker._check_batch_steps(v_def);
  RETURN v_def;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Fan-out
-- ---------------------------------------------------------------------------------------------

-- tasker.max_batch_items: the most items one batch step may fan out into. Every item becomes a
-- step, a queue message and an edge to each convergence step, all in the reporting transaction.
CREATE FUNCTION tasker.max_batch_items() RETURNS int
LANGUAGE sql IMMUTABLE AS 'SELECT 10000';

-- tasker._fan_out_problem: why a success reported with items p_items (NULL: none) for the given
-- step cannot fan out, or NULL when it can: the step must be a batch step, the items a JSON array
-- of at most max_batch_items(), and the step must have exactly one successor depending on it
-- alone (templates registered before 0010 were not checked for that). Reads only.
CREATE FUNCTION tasker._fan_out_problem(p_step_id uuid, p_name text, p_type text, p_items jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_successors text[];
  v_worker_parents int;
BEGIN
  IF p_type <> 'batch' THEN
    RETURN format('step "%s" is a %s step and cannot fan out; only steps with type: batch do', p_name, p_type);
  END IF;
  IF p_items IS NULL THEN
    RETURN format('batch step "%s" did not fan out: its success must carry the batch items (fanOut(items, result) in the SDK, the report''s "batch" field in the protocol); an empty list creates no instance',
                  p_name);
  END IF;
  IF jsonb_typeof(p_items) <> 'array' THEN
    RETURN format('the items of batch step "%s" must be a JSON array, got %s', p_name, jsonb_typeof(p_items));
  END IF;
  IF jsonb_array_length(p_items) > tasker.max_batch_items() THEN
    RETURN format('batch step "%s" fanned out %s items; the limit is %s per batch step (make each item a larger chunk of the work)',
                  p_name, jsonb_array_length(p_items), tasker.max_batch_items());
  END IF;
  SELECT array_agg(c.name ORDER BY c.name),
         max((SELECT count(*) FROM tasker.workflow_step_edges p WHERE p.to_step_id = c.step_id))
  INTO v_successors, v_worker_parents
  FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
  WHERE e.from_step_id = p_step_id;
  IF cardinality(v_successors) IS DISTINCT FROM 1 OR v_worker_parents <> 1 THEN
    RETURN format('batch step "%s" cannot fan out: it needs exactly one successor, its batch worker step, depending on it alone; its successors are: %s (register the template again to have it checked)',
                  p_name, coalesce(array_to_string(v_successors, ', '), 'none'));
  END IF;
  RETURN NULL;
END
$$;

-- tasker._fan_out: replaces the batch worker step of the just-completed batch step p_batch_step_id
-- by one pending instance per item of p_items (a JSON array, checked by _fan_out_problem):
-- instance i is named "<worker>[i]", copies the worker step's handler, type and retry, timeout
-- and delivery settings, and gets the worker's inputs plus batch_item, batch_index (0-based) and
-- batch_size. Edges: batch step -> each instance -> each convergence step (the worker's
-- successors), and batch step -> each convergence step; the worker's edges to the convergence
-- steps are removed and the worker moves pending -> skipped with the reason. Enqueues nothing
-- (the caller's _advance does). Returns the number of instances. The caller holds the task's
-- lock; a worker step that is not pending raises TK100 and changes nothing.
CREATE FUNCTION tasker._fan_out(p_task_id uuid, p_batch_step_id uuid, p_items jsonb, p_actor text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_batch_name text;
  v_worker tasker.workflow_steps%ROWTYPE;
  v_size int := jsonb_array_length(p_items);
  v_instances uuid[];
  v_convergence uuid[];
BEGIN
  SELECT s.name INTO v_batch_name FROM tasker.workflow_steps s WHERE s.step_id = p_batch_step_id;
  SELECT w.* INTO v_worker
  FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps w ON w.step_id = e.to_step_id
  WHERE e.from_step_id = p_batch_step_id
  FOR NO KEY UPDATE OF w;
  IF v_worker.state IS DISTINCT FROM 'pending' THEN
    RAISE EXCEPTION 'batch worker step "%" of "%" is %, not pending: it cannot be replaced by batch instances',
      v_worker.name, v_batch_name, coalesce(v_worker.state, 'missing')
      USING ERRCODE = 'TK100';
  END IF;

  SELECT array_agg(e.to_step_id) INTO v_convergence
  FROM tasker.workflow_step_edges e WHERE e.from_step_id = v_worker.step_id;

  PERFORM tasker._set_actor(p_actor, format('replaced by %s batch instances when "%s" completed', v_size, v_batch_name));
  UPDATE tasker.workflow_steps s
  SET state = 'skipped', finished_at = clock_timestamp(), updated_at = now()
  WHERE s.step_id = v_worker.step_id;

  PERFORM tasker._set_actor(p_actor, format('batch instance created by "%s"', v_batch_name));
  WITH created AS (
    INSERT INTO tasker.workflow_steps AS s
      (task_id, named_step_id, name, handler, step_type, state, inputs, max_attempts, max_deliveries,
       retryable, backoff_ms, max_backoff_ms, timeout_ms)
    SELECT p_task_id, v_worker.named_step_id, format('%s[%s]', v_worker.name, i.ord - 1), v_worker.handler,
           v_worker.step_type, 'pending',
           v_worker.inputs || jsonb_build_object('batch_item', i.item, 'batch_index', i.ord - 1, 'batch_size', v_size),
           v_worker.max_attempts, v_worker.max_deliveries, v_worker.retryable, v_worker.backoff_ms,
           v_worker.max_backoff_ms, v_worker.timeout_ms
    FROM jsonb_array_elements(p_items) WITH ORDINALITY AS i(item, ord)
    ORDER BY i.ord
    RETURNING s.step_id
  )
  SELECT array_agg(c.step_id) INTO v_instances FROM created c;

  INSERT INTO tasker.workflow_step_edges (task_id, from_step_id, to_step_id)
  SELECT p_task_id, p_batch_step_id, x.id FROM unnest(v_instances) AS x(id)
  UNION ALL
  SELECT p_task_id, x.id, c.id FROM unnest(v_instances) AS x(id) CROSS JOIN unnest(v_convergence) AS c(id);

  INSERT INTO tasker.workflow_step_edges (task_id, from_step_id, to_step_id)
  SELECT p_task_id, p_batch_step_id, c.id FROM unnest(v_convergence) AS c(id)
  ON CONFLICT DO NOTHING;

  DELETE FROM tasker.workflow_step_edges e
  WHERE e.from_step_id = v_worker.step_id AND e.to_step_id = ANY (v_convergence);

  RETURN v_size;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Reports
-- ---------------------------------------------------------------------------------------------

-- tasker.report_step (replaces 0005's, adding p_batch): everything 0005 guarantees, plus:
-- a success of a batch step must carry its items in p_batch (a JSON array, possibly empty, of at
-- most max_batch_items()); in the same transaction the step completes, its worker step is
-- replaced by one instance per item (_fan_out), the instances (or, with no items, the
-- convergence steps whose other dependencies are done) are enqueued, and `enqueued` counts them.
-- Items on a step that is not a batch step, a batch step's success without items, and items that
-- are not a JSON array or too many are stored as a permanent failure (kind InvalidFanOut) saying
-- so. A batch step's valid success reported after its task stopped running ends the step
-- cancelled (reason given): nothing is fanned out, and retry_task runs the batch step again.
DROP FUNCTION tasker.report_step(uuid, int, int, text, jsonb, jsonb, int, text[], text);
CREATE FUNCTION tasker.report_step(
  p_step_id uuid,
  p_attempt int,
  p_delivery int,
  p_outcome text,
  p_result jsonb DEFAULT NULL,
  p_error jsonb DEFAULT NULL,
  p_retry_after_ms int DEFAULT NULL,
  p_activate text[] DEFAULT NULL,
  p_worker_id text DEFAULT NULL,
  p_batch jsonb DEFAULT NULL
) RETURNS TABLE (
  accepted boolean, reason text, step_state text, task_state text,
  next_retry_at timestamptz, enqueued int
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_actor text := coalesce(p_worker_id, 'worker');
  v_batch jsonb := nullif(p_batch, 'null'::jsonb);
  v_task_id uuid;
  v_task_state text;
  v_namespace text;
  v_step tasker.workflow_steps%ROWTYPE;
  v_outcome text := p_outcome;
  v_error jsonb := p_error;
  v_problem text;
  v_successors text[];
  v_unknown text[];
  v_next timestamptz;
  v_new_msg bigint;
  v_enqueued int := 0;
  v_final_reason text;
BEGIN
  IF p_outcome IS NULL OR p_outcome NOT IN ('success', 'retryable_failure', 'permanent_failure') THEN
    RAISE EXCEPTION 'invalid outcome %: must be success, retryable_failure or permanent_failure',
      coalesce(quote_literal(p_outcome), 'NULL')
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'outcome')::text;
  END IF;
  IF p_retry_after_ms IS NOT NULL AND (p_retry_after_ms < 0 OR p_retry_after_ms > 86400000) THEN
    RAISE EXCEPTION 'invalid retry_after_ms %: must be from 0 to 86400000', p_retry_after_ms
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'retry_after_ms')::text;
  END IF;

  SELECT s.task_id INTO v_task_id FROM tasker.workflow_steps s WHERE s.step_id = p_step_id;
  IF v_task_id IS NULL THEN
    RETURN QUERY SELECT false, 'unknown step'::text, NULL::text, NULL::text, NULL::timestamptz, 0;
    RETURN;
  END IF;

  -- Lock order everywhere: task, then step, then queue message.
  SELECT t.state, n.name INTO v_task_state, v_namespace
  FROM tasker.tasks t JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  WHERE t.task_id = v_task_id
  FOR NO KEY UPDATE OF t;
  SELECT * INTO v_step FROM tasker.workflow_steps s WHERE s.step_id = p_step_id FOR NO KEY UPDATE;

  IF v_step.state <> 'in_progress' OR v_step.attempt <> p_attempt OR v_step.deliveries <> p_delivery THEN
    RETURN QUERY SELECT false,
      CASE
        WHEN v_step.state <> 'in_progress' THEN format('step is %s', v_step.state)
        WHEN v_step.attempt <> p_attempt THEN format('stale attempt %s (current is %s)', p_attempt, v_step.attempt)
        ELSE format('lease lost: the step was delivered again (delivery %s is current, report was for %s)',
                    v_step.deliveries, p_delivery)
      END,
      v_step.state, v_task_state, NULL::timestamptz, 0;
    RETURN;
  END IF;

  IF v_outcome = 'success' AND (p_activate IS NOT NULL OR v_step.step_type = 'decision') THEN
    SELECT array_agg(c.name ORDER BY c.name) INTO v_successors
    FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
    WHERE e.from_step_id = p_step_id;
    IF v_step.step_type <> 'decision' THEN
      v_outcome := 'permanent_failure';
      v_error := jsonb_build_object('kind', 'InvalidDecision', 'message',
        format('step "%s" is not a decision step; only decision steps choose branches', v_step.name));
    ELSIF p_activate IS NULL THEN
      v_outcome := 'permanent_failure';
      v_error := jsonb_build_object('kind', 'InvalidDecision', 'message',
        format('decision step "%s" did not choose its branches (an empty choice skips them all); its successors are: %s',
               v_step.name, coalesce(array_to_string(v_successors, ', '), 'none')));
    ELSE
      SELECT array_agg(a) INTO v_unknown FROM unnest(p_activate) a
      WHERE NOT (a = ANY (coalesce(v_successors, '{}')));
      IF v_unknown IS NOT NULL THEN
        v_outcome := 'permanent_failure';
        v_error := jsonb_build_object('kind', 'InvalidDecision', 'message',
          format('decision step "%s" chose %s, which %s not among its successors: %s',
                 v_step.name, array_to_string(v_unknown, ', '),
                 CASE WHEN cardinality(v_unknown) = 1 THEN 'is' ELSE 'are' END,
                 coalesce(array_to_string(v_successors, ', '), 'none')));
      END IF;
    END IF;
  END IF;

  IF v_outcome = 'success' AND (v_batch IS NOT NULL OR v_step.step_type = 'batch') THEN
    v_problem := tasker._fan_out_problem(p_step_id, v_step.name, v_step.step_type, v_batch);
    IF v_problem IS NOT NULL THEN
      v_outcome := 'permanent_failure';
      v_error := jsonb_build_object('kind', 'InvalidFanOut', 'message', v_problem);
    END IF;
  END IF;

  -- From here on, a success with items is a valid fan-out of a batch step.
  IF v_outcome = 'success' AND v_batch IS NOT NULL AND v_task_state <> 'in_progress' THEN
    v_final_reason := format('task is %s: the batch of %s items was not fanned out; retry_task runs the step again',
                             v_task_state, jsonb_array_length(v_batch));
    PERFORM tasker._set_actor(v_actor, v_final_reason);
    UPDATE tasker.workflow_steps s
    SET state = 'cancelled', results = p_result, finished_at = clock_timestamp(),
        lease_expires_at = NULL, updated_at = now()
    WHERE s.step_id = p_step_id;
    PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_step.msg_id);
    RETURN QUERY SELECT true, v_final_reason, 'cancelled'::text, v_task_state, NULL::timestamptz, 0;
    RETURN;
  END IF;

  IF v_outcome = 'success' THEN
    PERFORM tasker._set_actor(v_actor, CASE WHEN v_batch IS NULL THEN 'handler succeeded'
      ELSE format('handler succeeded; fanned out %s items', jsonb_array_length(v_batch)) END);
    UPDATE tasker.workflow_steps s
    SET state = 'complete', results = p_result, finished_at = clock_timestamp(),
        lease_expires_at = NULL, updated_at = now()
    WHERE s.step_id = p_step_id;
    PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_step.msg_id);
    IF v_task_state = 'in_progress' THEN
      IF v_batch IS NOT NULL THEN
        PERFORM tasker._fan_out(v_task_id, p_step_id, v_batch, v_actor);
      END IF;
      v_enqueued := tasker._advance(v_task_id, v_namespace, p_step_id, p_activate, v_actor);
      v_task_state := tasker._finalize_task(v_task_id, v_actor);
    END IF;
    RETURN QUERY SELECT true, NULL::text, 'complete'::text, v_task_state, NULL::timestamptz, v_enqueued;
    RETURN;
  END IF;

  IF v_outcome = 'retryable_failure' AND v_step.retryable AND v_step.attempt < v_step.max_attempts
     AND v_task_state = 'in_progress' THEN
    v_next := clock_timestamp() + make_interval(secs => coalesce(p_retry_after_ms,
                tasker.retry_delay_ms(v_step.attempt, v_step.backoff_ms, v_step.max_backoff_ms)) / 1000.0);
    PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_step.msg_id);
    SELECT sent.msg_id INTO v_new_msg
    FROM tasker._send_steps(v_namespace, v_task_id, ARRAY[p_step_id], ARRAY[v_step.attempt + 1], v_next) sent;
    PERFORM tasker._set_actor(v_actor, format('attempt %s failed; retry at %s', v_step.attempt, v_next));
    UPDATE tasker.workflow_steps s
    SET state = 'waiting_for_retry', attempt = s.attempt + 1, deliveries = 0, last_error = v_error,
        next_retry_at = v_next, msg_id = v_new_msg, lease_expires_at = NULL, claimed_by = NULL,
        updated_at = now()
    WHERE s.step_id = p_step_id;
    RETURN QUERY SELECT true, NULL::text, 'waiting_for_retry'::text, v_task_state, v_next, 0;
    RETURN;
  END IF;

  v_final_reason := CASE
    WHEN v_outcome = 'permanent_failure' THEN 'permanent failure'
    WHEN v_task_state <> 'in_progress' THEN format('not retried: task is %s', v_task_state)
    WHEN NOT v_step.retryable THEN 'step is not retryable'
    ELSE format('attempts exhausted (%s of %s)', v_step.attempt, v_step.max_attempts)
  END;
  PERFORM tasker._set_actor(v_actor, v_final_reason);
  UPDATE tasker.workflow_steps s
  SET state = 'error', last_error = coalesce(v_error, '{}'::jsonb) || jsonb_build_object('final_reason', v_final_reason),
      finished_at = clock_timestamp(), lease_expires_at = NULL, updated_at = now()
  WHERE s.step_id = p_step_id;
  PERFORM pgmq.delete(tasker.queue_name(v_namespace), v_step.msg_id);
  IF v_task_state IN ('pending', 'in_progress') THEN
    PERFORM tasker._fail_task(v_task_id, v_namespace, v_actor,
      format('step "%s" failed: %s', v_step.name, v_final_reason));
    v_task_state := 'error';
  END IF;
  RETURN QUERY SELECT true, v_final_reason, 'error'::text, v_task_state, NULL::timestamptz, 0;
END
$$;

-- tasker.report_steps (replaces 0008's): the same contract, and each report may carry `batch`
-- (the items of a batch step's success), passed to report_step. Batch steps' reports and reports
-- carrying items never take the set-wise fast path, which knows nothing of fan-out: like
-- decisions and failures they go through report_step one by one, in task order.
CREATE OR REPLACE FUNCTION tasker.report_steps(p_reports jsonb, p_worker_id text DEFAULT NULL)
RETURNS TABLE (
  report_index int, step_id uuid, accepted boolean, reason text, step_state text, task_state text,
  next_retry_at timestamptz, enqueued int
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_actor text := coalesce(p_worker_id, 'worker');
  v_bad bigint;
  v_ids uuid[];
  v_attempts int[];
  v_deliveries int[];
  v_outcomes text[];
  v_results jsonb[];
  v_routed boolean[];
  v_fast uuid[];
  v_fast_tasks uuid[];
  v_advance_from uuid[];
  v_group record;
  v_report record;
BEGIN
  IF p_reports IS NULL OR jsonb_typeof(p_reports) <> 'array' THEN
    RAISE EXCEPTION 'invalid reports: expected a JSON array'
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'reports')::text;
  END IF;
  SELECT min(r.ordinality) INTO v_bad
  FROM jsonb_array_elements(p_reports) WITH ORDINALITY r
  WHERE tasker._message_uuid(r.value, 'step_id') IS NULL
     OR tasker._message_int(r.value, 'attempt') IS NULL
     OR tasker._message_int(r.value, 'delivery') IS NULL;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION 'invalid report #%: step_id (uuid), attempt and delivery (integers) are required', v_bad
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', format('reports[%s]', v_bad - 1))::text;
  END IF;

  -- v_routed: the report names successors (activate) or items (batch), so report_step decides it.
  SELECT array_agg(tasker._message_uuid(r.value, 'step_id') ORDER BY r.ordinality),
         array_agg(tasker._message_int(r.value, 'attempt') ORDER BY r.ordinality),
         array_agg(tasker._message_int(r.value, 'delivery') ORDER BY r.ordinality),
         array_agg(r.value ->> 'outcome' ORDER BY r.ordinality),
         array_agg(r.value -> 'result' ORDER BY r.ordinality),
         array_agg((r.value ? 'activate' AND r.value -> 'activate' <> 'null'::jsonb)
                   OR (r.value ? 'batch' AND r.value -> 'batch' <> 'null'::jsonb) ORDER BY r.ordinality)
  INTO v_ids, v_attempts, v_deliveries, v_outcomes, v_results, v_routed
  FROM jsonb_array_elements(p_reports) WITH ORDINALITY r;
  IF v_ids IS NULL THEN
    RETURN;
  END IF;

  -- Lock order everywhere: tasks (here, all of them, in order), then steps, then messages.
  PERFORM 1 FROM tasker.tasks t
  WHERE t.task_id IN (SELECT s.task_id FROM tasker.workflow_steps s WHERE s.step_id = ANY (v_ids))
  ORDER BY t.task_id
  FOR NO KEY UPDATE;

  -- The first report of each step is a plain success whose lease still holds: the fast path.
  WITH asked AS (
    SELECT DISTINCT ON (a.step_id) a.*
    FROM unnest(v_ids, v_attempts, v_deliveries, v_outcomes, v_routed) WITH ORDINALITY
      AS a(step_id, attempt, delivery, outcome, routed, ord)
    ORDER BY a.step_id, a.ord
  ),
  held AS (
    SELECT s.step_id, s.task_id, s.state, s.attempt, s.deliveries, s.step_type, t.state AS task_state
    FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
    WHERE s.step_id = ANY (v_ids)
    ORDER BY s.step_id
    FOR NO KEY UPDATE OF s
  )
  SELECT array_agg(h.step_id), array_agg(DISTINCT h.task_id),
         array_agg(h.step_id) FILTER (WHERE h.task_state = 'in_progress')
  INTO v_fast, v_fast_tasks, v_advance_from
  FROM asked a JOIN held h ON h.step_id = a.step_id
  WHERE a.outcome = 'success' AND NOT a.routed AND h.step_type NOT IN ('decision', 'batch')
    AND h.state = 'in_progress' AND h.attempt = a.attempt AND h.deliveries = a.delivery;

  IF v_fast IS NOT NULL THEN
    PERFORM tasker._set_actor(v_actor, 'handler succeeded');
    UPDATE tasker.workflow_steps s
    SET state = 'complete', results = v_results[array_position(v_ids, s.step_id)],
        finished_at = clock_timestamp(), lease_expires_at = NULL, updated_at = now()
    WHERE s.step_id = ANY (v_fast);

    FOR v_group IN
      SELECT n.name AS namespace, array_agg(s.msg_id) AS msg_ids
      FROM tasker.workflow_steps s
      JOIN tasker.tasks t ON t.task_id = s.task_id
      JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
      WHERE s.step_id = ANY (v_fast) AND s.msg_id IS NOT NULL
      GROUP BY n.name
    LOOP
      PERFORM pgmq.delete(tasker.queue_name(v_group.namespace), v_group.msg_ids);
    END LOOP;

    PERFORM tasker._advance_many(v_advance_from, v_actor);

    PERFORM tasker._set_actor(v_actor, 'all steps complete');
    UPDATE tasker.tasks t
    SET state = CASE WHEN EXISTS (SELECT 1 FROM tasker.workflow_steps s
                                  WHERE s.task_id = t.task_id AND s.state NOT IN ('complete', 'skipped'))
                     THEN 'error' ELSE 'complete' END,
        finished_at = clock_timestamp(), updated_at = now()
    WHERE t.task_id = ANY (v_fast_tasks) AND t.state = 'in_progress'
      AND NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s
                      WHERE s.task_id = t.task_id
                        AND s.state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry'));

    -- A step's "enqueued" counts its direct successors that this transaction enqueued.
    RETURN QUERY
    SELECT array_position(v_ids, s.step_id) - 1, s.step_id, true, NULL::text, 'complete'::text, t.state, NULL::timestamptz,
           (SELECT count(*)::int FROM tasker.workflow_step_edges e
            JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
            WHERE e.from_step_id = s.step_id AND c.state = 'enqueued' AND c.enqueued_at = now())
    FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
    WHERE s.step_id = ANY (v_fast);
  END IF;

  FOR v_report IN
    SELECT r.value AS body, tasker._message_uuid(r.value, 'step_id') AS id, r.ordinality
    FROM jsonb_array_elements(p_reports) WITH ORDINALITY r
    LEFT JOIN tasker.workflow_steps s
      ON s.step_id = tasker._message_uuid(r.value, 'step_id') AND s.step_id = ANY (v_ids)
    WHERE NOT (r.ordinality = ANY (
      SELECT min(f.ord) FROM unnest(v_ids) WITH ORDINALITY AS f(step_id, ord)
      WHERE f.step_id = ANY (coalesce(v_fast, '{}')) GROUP BY f.step_id))
    ORDER BY s.task_id NULLS LAST, r.ordinality
  LOOP
    RETURN QUERY
    SELECT (v_report.ordinality - 1)::int, v_report.id, r.accepted, r.reason, r.step_state, r.task_state,
           r.next_retry_at, r.enqueued
    FROM tasker.report_step(
      v_report.id,
      tasker._message_int(v_report.body, 'attempt'),
      tasker._message_int(v_report.body, 'delivery'),
      v_report.body ->> 'outcome',
      v_report.body -> 'result',
      v_report.body -> 'error',
      tasker._message_int(v_report.body, 'retry_after_ms'),
      CASE WHEN jsonb_typeof(v_report.body -> 'activate') = 'array'
           THEN ARRAY(SELECT jsonb_array_elements_text(v_report.body -> 'activate')) END,
      p_worker_id,
      v_report.body -> 'batch') r;
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Enqueueing many steps at once
-- ---------------------------------------------------------------------------------------------

-- tasker._enqueue_steps_many (replaces 0008's, same contract): moves the given pending steps (of
-- any tasks) to enqueued and sends one message per step for its current attempt, in step order,
-- waking each namespace once; steps not pending are left alone; returns how many were enqueued;
-- the caller holds the locks of their tasks. 0008's version matched each step to its message with
-- array_position() inside the UPDATE, a scan of the whole array per row: fine for the handful of
-- successors a report used to enqueue, but n² for the thousands of instances of a fan-out
-- (10,000 instances took minutes). The steps and their message ids are now joined as a set.
CREATE OR REPLACE FUNCTION tasker._enqueue_steps_many(p_step_ids uuid[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_ids uuid[] := '{}';
  v_msgs bigint[] := '{}';
  v_group record;
  v_sent_ids uuid[];
  v_sent_msgs bigint[];
  v_count int;
BEGIN
  IF p_step_ids IS NULL THEN
    RETURN 0;
  END IF;
  FOR v_group IN
    SELECT n.name AS namespace, array_agg(s.step_id ORDER BY s.step_id) AS step_ids,
           array_agg(s.task_id ORDER BY s.step_id) AS task_ids,
           array_agg(s.attempt ORDER BY s.step_id) AS attempts
    FROM tasker.workflow_steps s
    JOIN tasker.tasks t ON t.task_id = s.task_id
    JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
    WHERE s.step_id = ANY (p_step_ids) AND s.state = 'pending'
    GROUP BY n.name
  LOOP
    -- One pgmq.send per step, in step order (the lateral call runs once per row, in row order).
    SELECT array_agg(x.step_id ORDER BY x.ord), array_agg(m.msg_id ORDER BY x.ord)
    INTO v_sent_ids, v_sent_msgs
    FROM unnest(v_group.step_ids, v_group.task_ids, v_group.attempts) WITH ORDINALITY AS x(step_id, task_id, attempt, ord)
    CROSS JOIN LATERAL pgmq.send(tasker.queue_name(v_group.namespace),
                                 tasker._step_message(x.task_id, x.step_id, x.attempt)) AS m(msg_id);
    v_ids := v_ids || v_sent_ids;
    v_msgs := v_msgs || v_sent_msgs;
    PERFORM pg_notify('tasker_queue_' || v_group.namespace, '0');
  END LOOP;
  IF cardinality(v_ids) = 0 THEN
    RETURN 0;
  END IF;

  UPDATE tasker.workflow_steps w
  SET state = 'enqueued', msg_id = x.msg_id, enqueued_at = now(), updated_at = now()
  FROM unnest(v_ids, v_msgs) AS x(step_id, msg_id)
  WHERE w.step_id = x.step_id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Transition-log triggers that stay linear in the rows a statement changes
-- ---------------------------------------------------------------------------------------------

-- A fan-out enqueues thousands of steps in one UPDATE. 0008's triggers joined the statement's
-- old and new transition tables (old_rows JOIN new_rows USING (step_id)) three times. PL/pgSQL
-- plans those queries once per session, and the planner takes the transition tables' size from
-- the first statement it sees them in, usually a one-row report: the cached plan is a nested
-- loop, and every later statement changing n rows pays n² comparisons per query (2,000 enqueued
-- instances: 15 s; a claim of 1,000 steps: 2 s). These versions never join the two tables:
-- they group their union by key (linear whatever the plan) into arrays, then check the
-- transitions against the state machine and append them from those arrays. Behaviour and
-- guarantees are those of 0001.

-- tasker._log_task_changes: as in 0001, a task's state changes only along task_state_machine
-- (else TK100); each change is appended to task_transitions with most_recent moved to it; terminal
-- states are announced on tasker_task_state.
CREATE OR REPLACE FUNCTION tasker._log_task_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_ids uuid[];
  v_from text[];
  v_to text[];
  v_bad record;
  v_index int;
BEGIN
  SELECT array_agg(c.task_id), array_agg(c.from_state), array_agg(c.to_state)
  INTO v_ids, v_from, v_to
  FROM (
    SELECT u.task_id,
           min(u.state) FILTER (WHERE u.old) AS from_state,
           min(u.state) FILTER (WHERE NOT u.old) AS to_state
    FROM (SELECT true AS old, o.task_id, o.state FROM old_rows o
          UNION ALL
          SELECT false, n.task_id, n.state FROM new_rows n) u
    GROUP BY u.task_id
  ) c
  WHERE c.from_state <> c.to_state;
  IF v_ids IS NULL THEN
    RETURN NULL;
  END IF;

  SELECT x.task_id, x.from_state, x.to_state INTO v_bad
  FROM unnest(v_ids, v_from, v_to) AS x(task_id, from_state, to_state)
  WHERE NOT EXISTS (SELECT 1 FROM tasker.task_state_machine m
                    WHERE m.from_state = x.from_state AND m.to_state = x.to_state);
  IF FOUND THEN
    RAISE EXCEPTION 'illegal task transition % -> % for task %',
      v_bad.from_state, v_bad.to_state, v_bad.task_id
      USING ERRCODE = 'TK100';
  END IF;

  UPDATE tasker.task_transitions t SET most_recent = false
  WHERE t.task_id = ANY (v_ids) AND t.most_recent;

  INSERT INTO tasker.task_transitions (task_id, from_state, to_state, actor, reason)
  SELECT x.task_id, x.from_state, x.to_state, tasker._actor(), tasker._reason()
  FROM unnest(v_ids, v_from, v_to) AS x(task_id, from_state, to_state);

  FOR v_index IN 1 .. cardinality(v_ids) LOOP
    IF v_to[v_index] IN ('complete', 'error', 'cancelled') THEN
      PERFORM pg_notify('tasker_task_state',
        json_build_object('task_id', v_ids[v_index], 'state', v_to[v_index])::text);
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

-- tasker._log_step_changes: as in 0001, a step's state changes only along step_state_machine
-- (else TK100), and a change of state, attempt or delivery is appended to step_transitions with
-- most_recent moved to it; updates that touch none of them log nothing.
CREATE OR REPLACE FUNCTION tasker._log_step_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_ids uuid[];
  v_tasks uuid[];
  v_from text[];
  v_to text[];
  v_attempts int[];
  v_deliveries int[];
  v_bad record;
BEGIN
  SELECT array_agg(c.step_id), array_agg(c.task_id), array_agg(c.from_state), array_agg(c.to_state),
         array_agg(c.attempt), array_agg(c.deliveries)
  INTO v_ids, v_tasks, v_from, v_to, v_attempts, v_deliveries
  FROM (
    SELECT u.step_id,
           (array_agg(u.task_id))[1] AS task_id,
           min(u.state) FILTER (WHERE u.old) AS from_state,
           min(u.state) FILTER (WHERE NOT u.old) AS to_state,
           min(u.attempt) FILTER (WHERE u.old) AS old_attempt,
           min(u.attempt) FILTER (WHERE NOT u.old) AS attempt,
           min(u.deliveries) FILTER (WHERE u.old) AS old_deliveries,
           min(u.deliveries) FILTER (WHERE NOT u.old) AS deliveries
    FROM (SELECT true AS old, o.step_id, o.task_id, o.state, o.attempt, o.deliveries FROM old_rows o
          UNION ALL
          SELECT false, n.step_id, n.task_id, n.state, n.attempt, n.deliveries FROM new_rows n) u
    GROUP BY u.step_id
  ) c
  WHERE c.from_state <> c.to_state OR c.old_attempt <> c.attempt OR c.old_deliveries <> c.deliveries;
  IF v_ids IS NULL THEN
    RETURN NULL;
  END IF;

  SELECT x.step_id, x.from_state, x.to_state INTO v_bad
  FROM unnest(v_ids, v_from, v_to) AS x(step_id, from_state, to_state)
  WHERE NOT EXISTS (SELECT 1 FROM tasker.step_state_machine m
                    WHERE m.from_state = x.from_state AND m.to_state = x.to_state);
  IF FOUND THEN
    RAISE EXCEPTION 'illegal step transition % -> % for step %',
      v_bad.from_state, v_bad.to_state, v_bad.step_id
      USING ERRCODE = 'TK100';
  END IF;

  UPDATE tasker.step_transitions t SET most_recent = false
  WHERE t.step_id = ANY (v_ids) AND t.most_recent;

  INSERT INTO tasker.step_transitions
    (step_id, task_id, from_state, to_state, attempt, delivery, actor, reason)
  SELECT x.step_id, x.task_id, x.from_state, x.to_state, x.attempt, x.delivery, tasker._actor(), tasker._reason()
  FROM unnest(v_ids, v_tasks, v_from, v_to, v_attempts, v_deliveries)
    AS x(step_id, task_id, from_state, to_state, attempt, delivery);
  RETURN NULL;
END
$$;
