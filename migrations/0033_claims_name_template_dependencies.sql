-- A claimed step names its template dependencies.
--
-- A claim returned a step's dependency results by step name, and nothing else about its
-- dependencies, so a handler could not tell a name that is not a dependency from one that has no
-- result: a dependency a decision skipped, or a batch worker step whose batch had no items
-- (ctx.batchResults('process_chunk') and ctx.batchResults('proces_chunk') both gave [] after an
-- empty fan-out). Each claimed row now also carries dependency_names: the template's
-- `dependencies` of the step (named_steps.dependencies; a batch instance has its worker step's,
-- a convergence step names the worker step, not its instances). The SDK checks names against it.
--
-- The claim functions' row type gains that last column, so they are dropped and created again;
-- nothing else changes (their bodies are 0027's, the new column read by key from
-- named_steps per claimed row). report_and_claim passes claimed rows on as to_jsonb(row) and so
-- carries the new field without a change.

DROP FUNCTION tasker.claim_steps(text, int, int, text);
DROP FUNCTION tasker._lease_steps(uuid[], int, text);
DROP FUNCTION tasker._claimed_steps(uuid[]);

-- tasker._lease_steps: 0027's contract (moves the given steps to in_progress under a new lease
-- for p_worker_id, one delivery more, and returns them as claimed rows in message order), each
-- row also naming its template dependencies.
CREATE FUNCTION tasker._lease_steps(p_step_ids uuid[], p_lease_seconds int, p_worker_id text)
RETURNS TABLE (
  outcome            text,
  reason             text,
  msg_id             bigint,
  task_id            uuid,
  step_id            uuid,
  step_name          text,
  handler            text,
  step_type          text,
  attempt            int,
  max_attempts       int,
  delivery           int,
  timeout_ms         int,
  lease_expires_at   timestamptz,
  namespace          text,
  task_name          text,
  task_version       text,
  correlation_id     text,
  context            jsonb,
  inputs             jsonb,
  dependency_results jsonb,
  successors         text[],
  dependency_names   text[]
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF p_step_ids IS NULL OR cardinality(p_step_ids) = 0 THEN
    RETURN;
  END IF;
  PERFORM tasker._set_actor(coalesce(p_worker_id, 'worker'), 'claimed');
  RETURN QUERY
  WITH leased AS (
    UPDATE tasker.workflow_steps s
    SET state = 'in_progress',
        deliveries = s.deliveries + 1,
        lease_expires_at = now() + make_interval(secs => p_lease_seconds),
        claimed_by = p_worker_id,
        started_at = CASE WHEN s.state = 'in_progress' THEN s.started_at ELSE clock_timestamp() END,
        updated_at = now()
    WHERE s.step_id = ANY (p_step_ids)
    RETURNING s.*
  )
  SELECT 'claimed'::text, NULL::text, s.msg_id, s.task_id, s.step_id, s.name, s.handler, s.step_type,
         s.attempt, s.max_attempts, s.deliveries, s.timeout_ms, s.lease_expires_at,
         n.name, nt.name, nt.version, t.correlation_id, t.context, s.inputs,
         coalesce((SELECT jsonb_object_agg(p.name, p.results)
                   FROM tasker.workflow_step_edges e
                   JOIN tasker.workflow_steps p ON p.step_id = e.from_step_id
                   WHERE e.to_step_id = s.step_id AND p.state = 'complete'), '{}'::jsonb),
         coalesce((SELECT array_agg(c.name ORDER BY c.name)
                   FROM tasker.workflow_step_edges e
                   JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
                   WHERE e.from_step_id = s.step_id), '{}'::text[]),
         (SELECT ns.dependencies FROM tasker.named_steps ns WHERE ns.named_step_id = s.named_step_id)
  FROM leased s
  CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
  JOIN tasker.named_tasks nt ON nt.named_task_id = t.named_task_id
  JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  ORDER BY s.msg_id;
END
$$;

-- tasker._claimed_steps: 0027's contract (the claimed rows of steps this transaction already
-- leased, in message order: report_and_claim's successors taken straight to in_progress), each
-- row also naming its template dependencies.
CREATE FUNCTION tasker._claimed_steps(p_step_ids uuid[])
RETURNS TABLE (
  outcome            text,
  reason             text,
  msg_id             bigint,
  task_id            uuid,
  step_id            uuid,
  step_name          text,
  handler            text,
  step_type          text,
  attempt            int,
  max_attempts       int,
  delivery           int,
  timeout_ms         int,
  lease_expires_at   timestamptz,
  namespace          text,
  task_name          text,
  task_version       text,
  correlation_id     text,
  context            jsonb,
  inputs             jsonb,
  dependency_results jsonb,
  successors         text[],
  dependency_names   text[]
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT 'claimed'::text, NULL::text, s.msg_id, s.task_id, s.step_id, s.name, s.handler, s.step_type,
         s.attempt, s.max_attempts, s.deliveries, s.timeout_ms, s.lease_expires_at,
         n.name, nt.name, nt.version, t.correlation_id, t.context, s.inputs,
         coalesce((SELECT jsonb_object_agg(p.name, p.results)
                   FROM tasker.workflow_step_edges e
                   JOIN tasker.workflow_steps p ON p.step_id = e.from_step_id
                   WHERE e.to_step_id = s.step_id AND p.state = 'complete'), '{}'::jsonb),
         coalesce((SELECT array_agg(c.name ORDER BY c.name)
                   FROM tasker.workflow_step_edges e
                   JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
                   WHERE e.from_step_id = s.step_id), '{}'::text[]),
         (SELECT ns.dependencies FROM tasker.named_steps ns WHERE ns.named_step_id = s.named_step_id)
  FROM tasker.workflow_steps s
  CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
  JOIN tasker.named_tasks nt ON nt.named_task_id = t.named_task_id
  JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  WHERE s.step_id = ANY (p_step_ids)
  ORDER BY s.msg_id;
END
$$;

-- tasker.claim_steps: 0027's contract (reads up to p_batch_size messages hidden for
-- p_lease_seconds; claims each claimable step by compare-and-swap and returns its full context,
-- claimed rows first in FIFO order; archives and returns as discarded the messages that cannot
-- run; defers busy ones), the claimed rows naming their template dependencies.
CREATE FUNCTION tasker.claim_steps(
  p_namespace text, p_batch_size int DEFAULT 10, p_lease_seconds int DEFAULT 30, p_worker_id text DEFAULT NULL
)
RETURNS TABLE (
  outcome            text,
  reason             text,
  msg_id             bigint,
  task_id            uuid,
  step_id            uuid,
  step_name          text,
  handler            text,
  step_type          text,
  attempt            int,
  max_attempts       int,
  delivery           int,
  timeout_ms         int,
  lease_expires_at   timestamptz,
  namespace          text,
  task_name          text,
  task_version       text,
  correlation_id     text,
  context            jsonb,
  inputs             jsonb,
  dependency_results jsonb,
  successors         text[],
  dependency_names   text[]
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_queue text := tasker.queue_name(p_namespace);
  v_msg_ids bigint[];
  v_msg_steps uuid[];
  v_msg_attempts int[];
  v_claim_steps uuid[];
  v_discard_msgs bigint[];
  v_discard_reasons text[];
  v_defer_msgs bigint[];
  v_defer_reasons text[];
  v_defer_until timestamptz[];
  v_index int;
BEGIN
  IF p_batch_size IS NULL OR p_batch_size < 1 OR p_batch_size > 1000 THEN
    RAISE EXCEPTION 'invalid batch size %: must be from 1 to 1000', p_batch_size
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'batch_size')::text;
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds < 1 OR p_lease_seconds > 86400 THEN
    RAISE EXCEPTION 'invalid lease %: must be from 1 to 86400 seconds', p_lease_seconds
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'lease_seconds')::text;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM tasker.namespaces n WHERE n.name = p_namespace) THEN
    RAISE EXCEPTION 'unknown namespace "%": register a template in it first', p_namespace
      USING ERRCODE = 'TK006', DETAIL = json_build_object('field', 'namespace', 'value', p_namespace)::text;
  END IF;

  SELECT array_agg(m.msg_id ORDER BY m.msg_id),
         array_agg(tasker._message_uuid(m.message, 'step_id') ORDER BY m.msg_id),
         array_agg(tasker._message_int(m.message, 'attempt') ORDER BY m.msg_id)
  INTO v_msg_ids, v_msg_steps, v_msg_attempts
  FROM pgmq.read(v_queue, p_lease_seconds, p_batch_size) m;
  IF v_msg_ids IS NULL THEN
    RETURN;
  END IF;

  WITH msgs AS (
    SELECT * FROM unnest(v_msg_ids, v_msg_steps, v_msg_attempts) AS m(msg_id, step_id, attempt)
  ),
  locked AS (
    SELECT s.step_id, s.state, s.attempt, s.deliveries, s.max_deliveries, s.lease_expires_at,
           s.msg_id, t.state AS task_state
    FROM tasker.workflow_steps s
    CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
    WHERE s.step_id = ANY (v_msg_steps)
    FOR NO KEY UPDATE OF s SKIP LOCKED
  ),
  decided AS (
    SELECT m.msg_id, m.step_id, l.lease_expires_at,
      CASE
        WHEN m.step_id IS NULL OR m.attempt IS NULL THEN 'discard:malformed message'
        WHEN l.step_id IS NULL AND NOT EXISTS (
          SELECT 1 FROM tasker.workflow_steps x WHERE x.step_id = m.step_id) THEN 'discard:unknown step'
        WHEN l.step_id IS NULL THEN 'defer:step is being changed by another transaction'
        WHEN m.attempt <> l.attempt THEN format('discard:stale attempt %s (current is %s)', m.attempt, l.attempt)
        WHEN m.msg_id IS DISTINCT FROM l.msg_id THEN 'discard:duplicate message'
        WHEN l.state IN ('enqueued', 'waiting_for_retry') THEN 'claim'
        WHEN l.state = 'in_progress' AND l.lease_expires_at > now() THEN 'defer:lease still held'
        WHEN l.state = 'in_progress' AND l.task_state <> 'in_progress'
          THEN 'discard:task is ' || l.task_state || '; the sweeper will close the step'
        WHEN l.state = 'in_progress' AND l.deliveries >= l.max_deliveries
          THEN 'defer:delivery limit reached; the sweeper will fail the step'
        WHEN l.state = 'in_progress' THEN 'claim'
        ELSE 'discard:step is ' || l.state
      END AS verdict
    FROM msgs m LEFT JOIN locked l ON l.step_id = m.step_id
  )
  SELECT
    array_agg(d.step_id ORDER BY d.msg_id) FILTER (WHERE d.verdict = 'claim'),
    array_agg(d.msg_id) FILTER (WHERE d.verdict LIKE 'discard:%'),
    array_agg(substr(d.verdict, 9)) FILTER (WHERE d.verdict LIKE 'discard:%'),
    array_agg(d.msg_id) FILTER (WHERE d.verdict LIKE 'defer:%'),
    array_agg(substr(d.verdict, 7)) FILTER (WHERE d.verdict LIKE 'defer:%'),
    array_agg(CASE d.verdict
                WHEN 'defer:lease still held' THEN d.lease_expires_at
                WHEN 'defer:step is being changed by another transaction'
                  THEN clock_timestamp() + interval '1 second'
                ELSE clock_timestamp() + make_interval(secs => p_lease_seconds) END)
      FILTER (WHERE d.verdict LIKE 'defer:%')
  INTO v_claim_steps, v_discard_msgs, v_discard_reasons,
       v_defer_msgs, v_defer_reasons, v_defer_until
  FROM decided d;

  -- Claimed steps come back first, in queue (FIFO) order.
  RETURN QUERY SELECT * FROM tasker._lease_steps(v_claim_steps, p_lease_seconds, p_worker_id);

  IF v_discard_msgs IS NOT NULL THEN
    PERFORM pgmq.archive(v_queue, v_discard_msgs);
  END IF;

  FOR v_index IN 1 .. coalesce(cardinality(v_defer_msgs), 0) LOOP
    PERFORM pgmq.set_vt(v_queue, v_defer_msgs[v_index], v_defer_until[v_index]);
  END LOOP;

  RETURN QUERY
  SELECT r.outcome, r.reason, r.msg_id, NULL::uuid, NULL::uuid, NULL::text, NULL::text, NULL::text,
         NULL::int, NULL::int, NULL::int, NULL::int, NULL::timestamptz, p_namespace, NULL::text,
         NULL::text, NULL::text, NULL::jsonb, NULL::jsonb, NULL::jsonb, NULL::text[],
         NULL::text[]
  FROM (SELECT 'discarded'::text AS outcome, d.reason, d.msg_id
        FROM unnest(v_discard_msgs, v_discard_reasons) AS d(msg_id, reason)
        UNION ALL
        SELECT 'deferred', d.reason, d.msg_id
        FROM unnest(v_defer_msgs, v_defer_reasons) AS d(msg_id, reason)) r;
END
$$;
