-- 0004: claiming steps from a namespace queue.

-- tasker._message_uuid / _message_int: read a field of a queue message without ever raising, so
-- a malformed message is classified rather than breaking the batch it arrived in.
CREATE FUNCTION tasker._message_uuid(p_message jsonb, p_key text) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN jsonb_typeof(p_message) = 'object'
     AND (p_message ->> p_key) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    THEN (p_message ->> p_key)::uuid
  END;
$$;

CREATE FUNCTION tasker._message_int(p_message jsonb, p_key text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN jsonb_typeof(p_message) = 'object'
     AND jsonb_typeof(p_message -> p_key) = 'number'
     AND (p_message ->> p_key) ~ '^[0-9]{1,9}$'
    THEN (p_message ->> p_key)::int
  END;
$$;

-- tasker.claim_steps: reads up to p_batch_size messages from the namespace queue, hiding them for
-- p_lease_seconds, and decides each in the same transaction:
--   claimed   the step was enqueued or waiting_for_retry for this attempt, or in_progress with an
--             expired lease and deliveries left: it moves to in_progress by compare-and-swap with
--             a new lease (deliveries + 1), and its full context is returned;
--   discarded the message is malformed, names an unknown step, a stale attempt, a duplicate
--             message, or a step that is no longer runnable: it is archived (kept for inspection
--             in PGMQ's archive) and never executed;
--   deferred  the step is busy (its row is locked by a report or cancellation, or its lease is
--             still held, or it used up its deliveries and awaits the sweeper): the message stays
--             hidden until the moment it could be decided differently.
-- One row is returned per message read; callers count non-claimed rows. A step is never claimed
-- twice at once: the CAS and row lock make concurrent claimers see each step at most once.
CREATE FUNCTION tasker.claim_steps(
  p_namespace text,
  p_batch_size int DEFAULT 10,
  p_lease_seconds int DEFAULT 30,
  p_worker_id text DEFAULT NULL
) RETURNS TABLE (
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
  successors         text[]
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_queue text := tasker.queue_name(p_namespace);
  v_claim_steps uuid[];
  v_claim_msgs bigint[];
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

  WITH msgs AS (
    SELECT m.msg_id, m.message,
           tasker._message_uuid(m.message, 'step_id') AS step_id,
           tasker._message_int(m.message, 'attempt') AS attempt
    FROM pgmq.read(v_queue, p_lease_seconds, p_batch_size) m
  ),
  locked AS (
    SELECT s.step_id, s.state, s.attempt, s.deliveries, s.max_deliveries, s.lease_expires_at,
           s.msg_id, (SELECT t.state FROM tasker.tasks t WHERE t.task_id = s.task_id) AS task_state
    FROM tasker.workflow_steps s
    WHERE s.step_id IN (SELECT m.step_id FROM msgs m WHERE m.step_id IS NOT NULL)
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
    array_agg(d.step_id ORDER BY d.step_id) FILTER (WHERE d.verdict = 'claim'),
    array_agg(d.msg_id ORDER BY d.step_id) FILTER (WHERE d.verdict = 'claim'),
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
  INTO v_claim_steps, v_claim_msgs, v_discard_msgs, v_discard_reasons,
       v_defer_msgs, v_defer_reasons, v_defer_until
  FROM decided d;

  IF v_claim_steps IS NOT NULL THEN
    PERFORM tasker._set_actor(coalesce(p_worker_id, 'worker'), 'claimed');
    UPDATE tasker.workflow_steps s
    SET state = 'in_progress',
        deliveries = s.deliveries + 1,
        lease_expires_at = now() + make_interval(secs => p_lease_seconds),
        claimed_by = p_worker_id,
        started_at = CASE WHEN s.state = 'in_progress' THEN s.started_at ELSE clock_timestamp() END,
        updated_at = now()
    WHERE s.step_id = ANY (v_claim_steps);
  END IF;

  IF v_discard_msgs IS NOT NULL THEN
    PERFORM pgmq.archive(v_queue, v_discard_msgs);
  END IF;

  FOR v_index IN 1 .. coalesce(cardinality(v_defer_msgs), 0) LOOP
    PERFORM pgmq.set_vt(v_queue, v_defer_msgs[v_index], v_defer_until[v_index]);
  END LOOP;

  -- Claimed steps come back in queue (FIFO) order.
  RETURN QUERY
  (SELECT 'claimed'::text, NULL::text, s.msg_id, s.task_id, s.step_id, s.name, s.handler, s.step_type,
         s.attempt, s.max_attempts, s.deliveries, s.timeout_ms, s.lease_expires_at,
         p_namespace, nt.name, nt.version, t.correlation_id, t.context, s.inputs,
         coalesce((SELECT jsonb_object_agg(p.name, p.results)
                   FROM tasker.workflow_step_edges e
                   JOIN tasker.workflow_steps p ON p.step_id = e.from_step_id
                   WHERE e.to_step_id = s.step_id AND p.state = 'complete'), '{}'::jsonb),
         coalesce((SELECT array_agg(c.name ORDER BY c.name)
                   FROM tasker.workflow_step_edges e
                   JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
                   WHERE e.from_step_id = s.step_id), '{}'::text[])
  FROM tasker.workflow_steps s
  JOIN tasker.tasks t ON t.task_id = s.task_id
  JOIN tasker.named_tasks nt ON nt.named_task_id = t.named_task_id
  WHERE s.step_id = ANY (v_claim_steps)
  ORDER BY s.msg_id)
  UNION ALL
  SELECT 'discarded', r.reason, r.msg_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         p_namespace, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM unnest(v_discard_msgs, v_discard_reasons) AS r(msg_id, reason)
  UNION ALL
  SELECT 'deferred', r.reason, r.msg_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         p_namespace, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM unnest(v_defer_msgs, v_defer_reasons) AS r(msg_id, reason);
END
$$;
