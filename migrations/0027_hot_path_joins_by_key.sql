-- The hot path joins a step to its task by key, whatever the size of the history.
--
-- Most hot-path statements reach steps by key (0016) and join each step to its task, template
-- and namespace on their keys. The generic plan of each statement is made once per session
-- (0012) and kept until the next ANALYZE, and it is chosen guessing ten elements for an array
-- parameter. Against ten probes of tasks_pkey, a merge join reading the whole of tasks_pkey in
-- order looks cheaper while the table holds a few hundred tasks or fewer, and the plan keeps
-- reading the whole index as the table grows, until autovacuum's next ANALYZE: a worker that
-- starts on a new deployment (or the demo, or a benchmark's or test's database). Statements
-- found doing it (auto_explain of every nested statement, plans made at 100 to 800 tasks): the
-- lock of the claimed steps in claim_steps, extend_leases' read of the leased steps, the claimed
-- steps' rows, and report_steps' task lock, read of the reported steps, namespace grouping and
-- result rows. After a history of 100 tasks grown to 423, one step of work read 2,229 entries of
-- tasks_pkey; with this migration 10.6 (test/protocol/stale-statistics.test.ts). report_steps'
-- task lock, a semi-join (`IN (SELECT ...)`), did it up to about 800 tasks even with fresh plans:
-- at 767 tasks, 0.44 ms of a 3 ms report of one step. The backlog tests, sized in thousands,
-- never saw any of it: the plans tip back to probes as the table grows.
--
-- Turning the planner off per method does not do: with merge joins off it scanned the index by
-- hash join or through task_idempotency instead, and with hash joins off too, the joins that
-- rightly hash two sets built from the call's arrays went quadratic (a claim of 300: 90,000 rows
-- in one nested loop). The statements say what they mean instead. 0016's rule gains a line: a
-- step reaches its task through a lateral subquery on the task's key with OFFSET 0 (so the
-- planner cannot pull it up into a join it may turn around): a probe of tasks_pkey per step, at
-- any size. Restated with it: claim_steps, _lease_steps, _claimed_steps, _enqueue_steps_many,
-- extend_leases and report_steps, whose task lock also follows 0016's rule to the letter (the
-- task ids gathered into an array first, the lock probing tasks_pkey with them). Joins to
-- named_tasks and namespaces stay joins: those tables grow with templates, not with history.

-- tasker._lease_steps: 0014's body; each step reaches its task by key (a lateral subquery).
CREATE OR REPLACE FUNCTION tasker._lease_steps(p_step_ids uuid[], p_lease_seconds int, p_worker_id text)
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
  CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
  JOIN tasker.named_tasks nt ON nt.named_task_id = t.named_task_id
  JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  ORDER BY s.msg_id;
END
$$;

-- tasker.claim_steps: 0014's body; each step reaches its task by key (a lateral subquery).
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
         NULL::text, NULL::text, NULL::jsonb, NULL::jsonb, NULL::jsonb, NULL::text[]
  FROM (SELECT 'discarded'::text AS outcome, d.reason, d.msg_id
        FROM unnest(v_discard_msgs, v_discard_reasons) AS d(msg_id, reason)
        UNION ALL
        SELECT 'deferred', d.reason, d.msg_id
        FROM unnest(v_defer_msgs, v_defer_reasons) AS d(msg_id, reason)) r;
END
$$;

-- tasker._claimed_steps: 0025's body; each step reaches its task by key (a lateral subquery).
CREATE OR REPLACE FUNCTION tasker._claimed_steps(p_step_ids uuid[])
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
                   WHERE e.from_step_id = s.step_id), '{}'::text[])
  FROM tasker.workflow_steps s
  CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
  JOIN tasker.named_tasks nt ON nt.named_task_id = t.named_task_id
  JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  WHERE s.step_id = ANY (p_step_ids)
  ORDER BY s.msg_id;
END
$$;

-- tasker._enqueue_steps_many: 0025's body; each step reaches its task by key (a lateral subquery).
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
  v_worker text;
  v_claimed uuid[] := '{}';
BEGIN
  IF p_step_ids IS NULL THEN
    RETURN 0;
  END IF;
  IF v_left > 0 THEN
    v_lease := current_setting('tasker.direct_claim_lease')::int;
    v_worker := nullif(current_setting('tasker.direct_claim_worker', true), '');
  END IF;
  FOR v_group IN
    SELECT n.name AS namespace, array_agg(s.step_id ORDER BY s.step_id) AS step_ids,
           array_agg(s.task_id ORDER BY s.step_id) AS task_ids,
           array_agg(s.attempt ORDER BY s.step_id) AS attempts
    FROM tasker.workflow_steps s
    CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
    JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
    WHERE s.step_id = ANY (p_step_ids) AND s.state IS NOT DISTINCT FROM 'pending'
    GROUP BY n.name
  LOOP
    v_taken := least(v_left, cardinality(v_group.step_ids));
    -- The first v_taken steps are claimed by this transaction (report_and_claim): their messages
    -- are sent hidden for the lease, the others visible now; one batch each.
    v_sent_ids := v_group.step_ids;
    v_sent_msgs :=
      tasker._send_step_messages(v_group.namespace, v_group.task_ids[1:v_taken], v_group.step_ids[1:v_taken],
                                 v_group.attempts[1:v_taken], clock_timestamp() + make_interval(secs => v_lease))
      || tasker._send_step_messages(v_group.namespace, v_group.task_ids[v_taken + 1:], v_group.step_ids[v_taken + 1:],
                                    v_group.attempts[v_taken + 1:], NULL);
    v_ids := v_ids || v_sent_ids;
    v_msgs := v_msgs || v_sent_msgs;
    IF v_taken > 0 THEN
      v_left := v_left - v_taken;
      v_claimed := v_claimed || v_sent_ids[1:v_taken];
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

  -- One write per step: a step this transaction claims goes from pending to in_progress with the
  -- lease _lease_steps would give it (logged as enqueued, then 'claimed').
  IF cardinality(v_claimed) > 0 THEN
    PERFORM set_config('tasker.then_reason', 'claimed', true);
  END IF;
  UPDATE tasker.workflow_steps w
  SET state = CASE WHEN w.step_id = ANY (v_claimed) THEN 'in_progress' ELSE 'enqueued' END,
      msg_id = v_msgs[array_position(v_ids, w.step_id)],
      enqueued_at = now(), updated_at = now(),
      deliveries = CASE WHEN w.step_id = ANY (v_claimed) THEN w.deliveries + 1 ELSE w.deliveries END,
      lease_expires_at = CASE WHEN w.step_id = ANY (v_claimed)
                              THEN now() + make_interval(secs => v_lease) ELSE w.lease_expires_at END,
      claimed_by = CASE WHEN w.step_id = ANY (v_claimed) THEN v_worker ELSE w.claimed_by END,
      started_at = CASE WHEN w.step_id = ANY (v_claimed) THEN clock_timestamp() ELSE w.started_at END
  WHERE w.step_id = ANY (v_ids);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF cardinality(v_claimed) > 0 THEN
    PERFORM set_config('tasker.then_reason', '', true);
  END IF;
  RETURN v_count;
END
$$;

-- tasker.extend_leases: 0019's body; each step reaches its task by key (a lateral subquery).
CREATE OR REPLACE FUNCTION tasker.extend_leases(
  p_step_ids uuid[], p_attempts int[], p_deliveries int[], p_lease_seconds int DEFAULT 30
) RETURNS TABLE (step_id uuid, extended boolean, abort boolean, lease_expires_at timestamptz, task_state text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_row record;
  v_namespaces text[] := '{}';
  v_msgs bigint[] := '{}';
  v_until timestamptz;
  v_leases jsonb;
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds < 1 OR p_lease_seconds > 86400 THEN
    RAISE EXCEPTION 'invalid lease %: must be from 1 to 86400 seconds', p_lease_seconds
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'lease_seconds')::text;
  END IF;
  IF cardinality(p_step_ids) IS DISTINCT FROM cardinality(p_attempts)
     OR cardinality(p_step_ids) IS DISTINCT FROM cardinality(p_deliveries) THEN
    RAISE EXCEPTION 'invalid leases: step_ids, attempts and deliveries must have the same length'
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'step_ids')::text;
  END IF;

  v_leases := tasker._lease_set(p_step_ids, p_attempts, p_deliveries);

  -- Lock the rows in step_id order first, the order report_steps locks them in: updating them
  -- in whatever order the plan picks deadlocked against concurrent reports (40P01).
  PERFORM 1 FROM tasker.workflow_steps s
  WHERE s.step_id = ANY (p_step_ids)
  ORDER BY s.step_id
  FOR NO KEY UPDATE OF s;

  FOR v_row IN
    WITH extended AS (
      UPDATE tasker.workflow_steps s
      SET lease_expires_at = now() + make_interval(secs => p_lease_seconds), updated_at = now()
      WHERE s.step_id = ANY (p_step_ids) AND s.state IS NOT DISTINCT FROM 'in_progress'
        AND v_leases ? tasker._lease_key(s.step_id, s.attempt, s.deliveries)
      RETURNING s.step_id, s.attempt, s.deliveries, s.msg_id, s.lease_expires_at
    ),
    current AS (
      SELECT s.step_id, t.state AS task_state, n.name AS namespace
      FROM tasker.workflow_steps s
      CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
      JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
      WHERE s.step_id = ANY (p_step_ids)
    )
    SELECT a.step_id, x.msg_id, x.lease_expires_at, c.task_state, c.namespace
    FROM unnest(p_step_ids, p_attempts, p_deliveries) WITH ORDINALITY AS a(step_id, attempt, delivery, ord)
    LEFT JOIN extended x
      ON x.step_id = a.step_id AND x.attempt = a.attempt AND x.deliveries = a.delivery
    LEFT JOIN current c ON c.step_id = a.step_id
    ORDER BY a.ord
  LOOP
    IF v_row.msg_id IS NOT NULL THEN
      v_namespaces := v_namespaces || v_row.namespace;
      v_msgs := v_msgs || v_row.msg_id;
      v_until := v_row.lease_expires_at;
    END IF;
    step_id := v_row.step_id;
    extended := v_row.lease_expires_at IS NOT NULL;
    abort := v_row.lease_expires_at IS NULL OR v_row.task_state IS DISTINCT FROM 'in_progress';
    lease_expires_at := v_row.lease_expires_at;
    task_state := v_row.task_state;
    RETURN NEXT;
  END LOOP;

  -- The messages follow their leases: every lease extended here ends at the same moment (now()
  -- is the transaction's).
  PERFORM tasker._set_messages_vt(v_namespaces, v_msgs, v_until);
END
$$;

-- tasker.report_steps: 0025's body; the task lock takes its keys as an array, and each step reaches
-- its task by key (a lateral subquery).
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
  v_fast_tasks uuid[];
  v_advance_from uuid[];
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
  WITH held AS (
    SELECT s.step_id, s.task_id, s.state, s.attempt, s.deliveries, s.step_type, t.state AS task_state,
           array_position(v_ids, s.step_id) AS i
    FROM tasker.workflow_steps s CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
    WHERE s.step_id = ANY (v_ids)
    ORDER BY s.step_id
    FOR NO KEY UPDATE OF s
  )
  SELECT array_agg(h.step_id), array_agg(DISTINCT h.task_id),
         array_agg(h.step_id) FILTER (WHERE h.task_state = 'in_progress')
  INTO v_fast, v_fast_tasks, v_advance_from
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
      SELECT n.name AS namespace, array_agg(s.msg_id) AS msg_ids
      FROM tasker.workflow_steps s
      CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
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
    WHERE t.task_id = ANY (v_fast_tasks) AND t.state IS NOT DISTINCT FROM 'in_progress'
      AND NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s
                      WHERE s.task_id = t.task_id
                        AND s.state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry')
                      OFFSET 0);

    -- A step's "enqueued" counts its direct successors that this transaction enqueued.
    RETURN QUERY
    SELECT array_position(v_ids, s.step_id) - 1, s.step_id, true, NULL::text, 'complete'::text, t.state, NULL::timestamptz,
           (SELECT count(*)::int FROM tasker.workflow_step_edges e
            JOIN tasker.workflow_steps c ON c.step_id = e.to_step_id
            WHERE e.from_step_id = s.step_id
              AND (c.state IS NOT DISTINCT FROM 'enqueued' OR c.state IS NOT DISTINCT FROM 'in_progress')
              AND c.enqueued_at = now())
    FROM tasker.workflow_steps s CROSS JOIN LATERAL (SELECT * FROM tasker.tasks t0 WHERE t0.task_id = s.task_id OFFSET 0) t
    WHERE s.step_id = ANY (v_fast);
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
