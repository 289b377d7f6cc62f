-- A report's ready successor goes straight to the reporting worker.
--
-- report_and_claim (0012) claimed the successors its reports enqueued by reading them back from
-- the queue with claim_steps: a pgmq.read (dynamic SQL, planned on every call), the verdict over
-- every message read, and a second pass over the steps. For the step the same transaction has
-- just enqueued none of that decides anything: the transaction wrote the step and holds its row,
-- the message is its own, and nobody else can see either before the commit. Now the successors
-- a report enqueues, up to the claim's room, are sent already leased (the message's visibility
-- timeout is the lease, exactly what pgmq.read would have set) and moved to in_progress for the
-- reporting worker without reading the queue. The step still passes pending -> enqueued ->
-- in_progress, each logged, and its message still carries redelivery if the lease runs out.
--
-- This changes one rule: a ready successor now goes to the worker that finished its predecessor
-- even when older messages wait in the queue (depth first: a started workflow finishes before
-- new ones start, and its next step pays no queue wait). Room left over is still filled from the
-- queue, as before.
--
-- The claimed rows come from one function, _lease_steps, for claim_steps and report_and_claim
-- alike, so both return exactly the same claim.

-- ---------------------------------------------------------------------------------------------
-- Leasing claimable steps
-- ---------------------------------------------------------------------------------------------

-- tasker._lease_steps: moves the given steps to in_progress for p_worker_id (one more delivery,
-- a lease of p_lease_seconds from now, started_at kept on a redelivery) and returns them as
-- claim_steps' 'claimed' rows, in queue (msg_id) order, with the context a handler needs. The
-- caller has decided the steps are claimable and holds their rows; the transition log's trigger
-- still refuses any move the step machine does not list.
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
  successors         text[]
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
                   WHERE e.from_step_id = s.step_id), '{}'::text[])
  FROM leased s
  JOIN tasker.tasks t ON t.task_id = s.task_id
  JOIN tasker.named_tasks nt ON nt.named_task_id = t.named_task_id
  JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  ORDER BY s.msg_id;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- claim_steps: 0008's, with the lease and the claimed rows taken from _lease_steps
-- ---------------------------------------------------------------------------------------------

-- tasker.claim_steps (same contract as 0004/0008): reads up to p_batch_size visible messages of
-- p_namespace's queue and, per message, claims its step (enqueued or waiting_for_retry, or
-- in_progress with an expired lease and deliveries left: a redelivery), discards the message
-- (malformed, unknown step, stale attempt, duplicate, step finished, task no longer running) or
-- defers it (step locked elsewhere, lease still held, delivery limit reached). Claimed rows come
-- first, in queue order; a step is claimed by one transaction only (rows locked, SKIP LOCKED).
CREATE OR REPLACE FUNCTION tasker.claim_steps(
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
    JOIN tasker.tasks t ON t.task_id = s.task_id
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
         NULL::text, NULL::text, NULL::jsonb, NULL::jsonb, NULL::jsonb, NULL::text[]
  FROM (SELECT 'discarded'::text AS outcome, d.reason, d.msg_id
        FROM unnest(v_discard_msgs, v_discard_reasons) AS d(msg_id, reason)
        UNION ALL
        SELECT 'deferred', d.reason, d.msg_id
        FROM unnest(v_defer_msgs, v_defer_reasons) AS d(msg_id, reason)) r;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Enqueueing: successors for the reporting worker are sent already leased
-- ---------------------------------------------------------------------------------------------

-- tasker._enqueue_steps_many (0012's contract): moves the given pending steps (of any tasks) to
-- enqueued and sends one message per step for its current attempt, in step order, announcing each
-- namespace through _notify_queue; steps not pending are left alone; returns how many were
-- enqueued; the caller holds the locks of their tasks. New: while the transaction has direct-claim
-- room (tasker.direct_claim_left, set by report_and_claim), the first steps of each namespace, up
-- to that room, are sent invisible for tasker.direct_claim_lease seconds (the lease their claim
-- will hold) and their ids are added to tasker.direct_claimed for report_and_claim to lease.
CREATE OR REPLACE FUNCTION tasker._enqueue_steps_many(p_step_ids uuid[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_ids uuid[] := '{}';
  v_msgs bigint[] := '{}';
  v_group record;
  v_sent_ids uuid[];
  v_sent_msgs bigint[];
  v_count int;
  v_left int := coalesce(nullif(current_setting('tasker.direct_claim_left', true), '')::int, 0);
  v_lease int := 0;
  v_taken int;
BEGIN
  IF p_step_ids IS NULL THEN
    RETURN 0;
  END IF;
  IF v_left > 0 THEN
    v_lease := current_setting('tasker.direct_claim_lease')::int;
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
    v_taken := least(v_left, cardinality(v_group.step_ids));
    -- One pgmq.send per step, in step order (the lateral call runs once per row, in row order).
    SELECT array_agg(x.step_id ORDER BY x.ord), array_agg(m.msg_id ORDER BY x.ord)
    INTO v_sent_ids, v_sent_msgs
    FROM unnest(v_group.step_ids, v_group.task_ids, v_group.attempts) WITH ORDINALITY AS x(step_id, task_id, attempt, ord)
    CROSS JOIN LATERAL pgmq.send(tasker.queue_name(v_group.namespace),
                                 tasker._step_message(x.task_id, x.step_id, x.attempt),
                                 CASE WHEN x.ord <= v_taken THEN v_lease ELSE 0 END) AS m(msg_id);
    v_ids := v_ids || v_sent_ids;
    v_msgs := v_msgs || v_sent_msgs;
    IF v_taken > 0 THEN
      v_left := v_left - v_taken;
      PERFORM set_config('tasker.direct_claim_left', v_left::text, true),
              set_config('tasker.direct_claimed',
                         (coalesce(nullif(current_setting('tasker.direct_claimed', true), ''), '{}')::uuid[]
                          || v_sent_ids[1:v_taken])::text, true);
    END IF;
    PERFORM tasker._notify_queue(v_group.namespace, v_sent_ids);
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
-- Report and claim
-- ---------------------------------------------------------------------------------------------

-- tasker.report_and_claim (0012's contract, but for the claim's order): applies p_reports exactly
-- as report_steps does and returns its rows (kind 'report'); then, when p_claim_max > 0, claims
-- up to p_claim_max steps in total for p_worker_id (lease p_lease_seconds): first the steps the
-- reports enqueued (in the order they were enqueued, without reading the queue: they were sent
-- already leased), then, with room left, from the queues of the namespaces where the reports
-- enqueued steps, namespace by namespace in name order, through claim_steps. Claimed rows come
-- back as kind 'claimed' (claim_steps' row as jsonb in `claim`), and the queue reads' other rows
-- as 'discarded' or 'deferred'. A namespace is announced (NOTIFY, at commit) unless this call
-- claimed every step the reports enqueued there. If anything fails, nothing is reported, claimed
-- or announced.
CREATE OR REPLACE FUNCTION tasker.report_and_claim(
  p_reports jsonb,
  p_worker_id text,
  p_claim_max int,
  p_lease_seconds int DEFAULT 30
) RETURNS TABLE (
  kind text, report_index int, step_id uuid, accepted boolean, reason text, step_state text,
  task_state text, next_retry_at timestamptz, enqueued int, claim jsonb
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_max int := coalesce(p_claim_max, 0);
  v_left int;
  v_row record;
  v_held jsonb;
  v_direct uuid[];
  v_namespace text;
  v_enqueued uuid[];
  v_claimed uuid[] := '{}';
  v_count int;
BEGIN
  IF v_max < 0 OR v_max > 1000 THEN
    RAISE EXCEPTION 'invalid claim size %: must be from 0 to 1000', p_claim_max
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'claim_max')::text;
  END IF;
  IF v_max > 0 AND (p_lease_seconds IS NULL OR p_lease_seconds < 1 OR p_lease_seconds > 86400) THEN
    RAISE EXCEPTION 'invalid lease %: must be from 1 to 86400 seconds', p_lease_seconds
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'lease_seconds')::text;
  END IF;

  PERFORM set_config('tasker.hold_queue_notify', 'on', true),
          set_config('tasker.held_queue_notify', '{}', true),
          set_config('tasker.direct_claim_left', v_max::text, true),
          set_config('tasker.direct_claim_lease', coalesce(p_lease_seconds, 0)::text, true),
          set_config('tasker.direct_claimed', '{}', true);
  FOR v_row IN SELECT * FROM tasker.report_steps(p_reports, p_worker_id) r LOOP
    kind := 'report'; report_index := v_row.report_index; step_id := v_row.step_id;
    accepted := v_row.accepted; reason := v_row.reason; step_state := v_row.step_state;
    task_state := v_row.task_state; next_retry_at := v_row.next_retry_at;
    enqueued := v_row.enqueued; claim := NULL;
    RETURN NEXT;
  END LOOP;
  v_held := coalesce(nullif(current_setting('tasker.held_queue_notify', true), ''), '{}')::jsonb;
  v_direct := coalesce(nullif(current_setting('tasker.direct_claimed', true), ''), '{}')::uuid[];
  PERFORM set_config('tasker.hold_queue_notify', 'off', true),
          set_config('tasker.held_queue_notify', '{}', true),
          set_config('tasker.direct_claim_left', '0', true),
          set_config('tasker.direct_claimed', '{}', true);

  report_index := NULL; step_id := NULL; accepted := NULL; reason := NULL; step_state := NULL;
  task_state := NULL; next_retry_at := NULL; enqueued := NULL;

  -- A step sent leased is still claimable only if nothing later in the reports moved it or its
  -- task on (a permanent failure cancels the task's open steps).
  IF cardinality(v_direct) > 0 THEN
    FOR claim IN
      SELECT to_jsonb(c)
      FROM tasker._lease_steps(ARRAY(
             SELECT s.step_id FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
             WHERE s.step_id = ANY (v_direct) AND s.state = 'enqueued' AND t.state = 'in_progress'),
           p_lease_seconds, p_worker_id) c
    LOOP
      kind := 'claimed';
      v_claimed := v_claimed || (claim ->> 'step_id')::uuid;
      RETURN NEXT;
    END LOOP;
  END IF;
  v_left := v_max - cardinality(v_claimed);

  FOR v_namespace, v_enqueued IN
    SELECT h.key, ARRAY(SELECT jsonb_array_elements_text(h.value)::uuid)
    FROM jsonb_each(v_held) h ORDER BY h.key
  LOOP
    IF v_left > 0 THEN
      v_count := 0;
      FOR kind, claim IN
        SELECT c.outcome, to_jsonb(c)
        FROM tasker.claim_steps(v_namespace, v_left, p_lease_seconds, p_worker_id) c
      LOOP
        IF kind = 'claimed' THEN
          v_claimed := v_claimed || (claim ->> 'step_id')::uuid;
          v_count := v_count + 1;
        END IF;
        RETURN NEXT;
      END LOOP;
      v_left := v_left - v_count;
    END IF;
    IF NOT (v_enqueued <@ v_claimed) THEN
      PERFORM pg_notify('tasker_queue_' || v_namespace, '0');
    END IF;
  END LOOP;
END
$$;
