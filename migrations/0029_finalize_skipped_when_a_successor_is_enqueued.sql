-- report_steps skips the finalize of a lone task that has just had a successor enqueued.
--
-- After completing its fast-path steps and enqueueing their ready successors (_advance_many),
-- report_steps finalizes every task of the batch that has no open step left: one UPDATE of tasks
-- with a per-task check for open steps, preceded by setting the actor's reason for the log. When
-- the batch's steps all belong to one task and _advance_many enqueued at least one step, that
-- task has an open step (the one just enqueued, of this task, in this transaction), so the UPDATE
-- can change nothing. That is the report of every step but the last of a workflow when one worker
-- runs it: the latency path (bench/results/latency.md). The two statements are skipped there; a
-- batch of several tasks, or a report that enqueued nothing, runs them as before.

-- tasker.report_steps: 0028's body; the finalize runs unless the reports' steps belong to one task
-- and _advance_many enqueued a step.
CREATE OR REPLACE FUNCTION tasker.report_steps(p_reports jsonb, p_worker_id text DEFAULT NULL)
RETURNS TABLE (
  report_index int, step_id uuid, accepted boolean, reason text, step_state text, task_state text,
  next_retry_at timestamptz, enqueued int
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
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
  v_fast_step_tasks uuid[];
  v_fast_msgs bigint[];
  v_fast_namespaces uuid[];
  v_fast_tasks uuid[];
  v_advance_from uuid[];
  v_enqueued int;
  v_group record;
  v_report record;
BEGIN
  IF p_reports IS NULL OR jsonb_typeof(p_reports) <> 'array' THEN
    RAISE EXCEPTION 'invalid reports: expected a JSON array'
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'reports')::text;
  END IF;
  -- v_routed: the report names successors (activate) or items (batch), so report_step decides it.
  -- One pass reads every report's fields; a report missing one leaves a NULL in its array, and
  -- the first such report is refused with the whole batch.
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
  v_bad := least(array_position(v_ids, NULL), array_position(v_attempts, NULL),
                 array_position(v_deliveries, NULL));
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION 'invalid report #%: step_id (uuid), attempt and delivery (integers) are required', v_bad
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', format('reports[%s]', v_bad - 1))::text;
  END IF;

  -- Lock order everywhere: tasks (here, all of them, in order), then steps, then messages.
  PERFORM 1 FROM tasker.tasks t
  WHERE t.task_id = ANY (ARRAY(SELECT s.task_id FROM tasker.workflow_steps s WHERE s.step_id = ANY (v_ids)))
  ORDER BY t.task_id
  FOR NO KEY UPDATE;

  -- The first report of each step is a plain success whose lease still holds: the fast path.
  -- Each held step finds its first report by position in the arrays (array_position returns the
  -- first match) instead of a join: the planner, which cannot count the rows of an array
  -- parameter, ran that join as a nested loop over both sides (O(batch²) rows visited).
  -- The fast steps' tasks, messages and namespaces are taken here, in step order, for the
  -- message deletes and result rows below: read again after the UPDATE, a step would be found
  -- through every version of it in workflow_steps_pkey (0028).
  WITH held AS (
    SELECT s.step_id, s.task_id, s.state, s.attempt, s.deliveries, s.step_type, s.msg_id,
           t.state AS task_state, t.namespace_id,
           array_position(v_ids, s.step_id) AS i
    FROM tasker.workflow_steps s CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
    WHERE s.step_id = ANY (v_ids)
    ORDER BY s.step_id
    FOR NO KEY UPDATE OF s
  )
  SELECT array_agg(h.step_id ORDER BY h.step_id), array_agg(h.task_id ORDER BY h.step_id),
         array_agg(h.msg_id ORDER BY h.step_id), array_agg(h.namespace_id ORDER BY h.step_id),
         array_agg(DISTINCT h.task_id),
         array_agg(h.step_id) FILTER (WHERE h.task_state = 'in_progress')
  INTO v_fast, v_fast_step_tasks, v_fast_msgs, v_fast_namespaces, v_fast_tasks, v_advance_from
  FROM held h
  WHERE v_outcomes[h.i] = 'success' AND NOT v_routed[h.i] AND h.step_type NOT IN ('decision', 'batch')
    AND h.state = 'in_progress' AND h.attempt = v_attempts[h.i] AND h.deliveries = v_deliveries[h.i];

  IF v_fast IS NOT NULL THEN
    PERFORM tasker._set_actor(v_actor, 'handler succeeded');
    UPDATE tasker.workflow_steps s
    SET state = 'complete', results = v_results[array_position(v_ids, s.step_id)],
        finished_at = clock_timestamp(), lease_expires_at = NULL, updated_at = now()
    WHERE s.step_id = ANY (v_fast);

    FOR v_group IN
      SELECT n.name AS namespace, array_agg(m.msg_id) AS msg_ids
      FROM unnest(v_fast_msgs, v_fast_namespaces) AS m(msg_id, namespace_id)
      JOIN tasker.namespaces n ON n.namespace_id = m.namespace_id
      WHERE m.msg_id IS NOT NULL
      GROUP BY n.name
    LOOP
      PERFORM pgmq.delete(tasker.queue_name(v_group.namespace), v_group.msg_ids);
    END LOOP;

    v_enqueued := tasker._advance_many(v_advance_from, v_actor);

    -- A lone task that just had a successor enqueued has an open step: the finalize below would
    -- find nothing to do (0029).
    IF cardinality(v_fast_tasks) > 1 OR v_enqueued = 0 THEN
      PERFORM tasker._set_actor(v_actor, 'all steps complete');
      UPDATE tasker.tasks t
      SET state = CASE WHEN EXISTS (SELECT 1 FROM tasker.workflow_steps s
                                    WHERE s.task_id = t.task_id AND s.state NOT IN ('complete', 'skipped'))
                       THEN 'error' ELSE 'complete' END,
          finished_at = clock_timestamp(), updated_at = now()
      WHERE t.task_id = ANY (v_fast_tasks) AND t.state IS NOT DISTINCT FROM 'in_progress'
        AND NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s
                        WHERE s.task_id = t.task_id
                          AND s.state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry')
                        OFFSET 0);
    END IF;

    -- A step's "enqueued" counts its direct successors that this transaction enqueued.
    RETURN QUERY
    SELECT array_position(v_ids, f.step_id) - 1, f.step_id, true, NULL::text, 'complete'::text, t.state, NULL::timestamptz,
           (SELECT count(*)::int FROM tasker.workflow_step_edges e
            JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
            WHERE e.from_step_id = f.step_id
              AND (c.state IS NOT DISTINCT FROM 'enqueued' OR c.state IS NOT DISTINCT FROM 'in_progress')
              AND c.enqueued_at = now())
    FROM unnest(v_fast, v_fast_step_tasks) AS f(step_id, task_id)
    CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = f.task_id OFFSET 0) t;
  END IF;

  -- Every report was the first of a step on the fast path: nothing is left for report_step.
  IF cardinality(v_fast) = cardinality(v_ids) THEN
    RETURN;
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
