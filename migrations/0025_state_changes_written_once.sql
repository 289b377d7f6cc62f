-- A state change made twice in one transaction is written once.
--
-- Three places on the hot path wrote a row and then wrote it again before committing: create_task
-- inserted the task as pending and its steps as pending, then moved the root steps to enqueued
-- and the task to in_progress; report_and_claim moved a reported step's successor from pending to
-- enqueued and then, claiming it for the reporting worker, to in_progress. Each second write paid
-- a heap tuple, an entry in every index (the state is in partial-index predicates, so none is
-- HOT), a statement with its trigger, and the foreign-key checks PostgreSQL repeats for a row the
-- same transaction created or updated (an RI trigger skips an unchanged key only when the old row
-- is not the transaction's own: ~0.17 ms against tasks and named_steps for a step's second
-- UPDATE, EXPLAIN ANALYZE).
--
-- Now:
-- - create_task inserts the task in_progress and its root steps enqueued (their ids drawn first,
--   in template order, and their messages sent before the rows are written);
-- - _enqueue_steps_many writes the successors report_and_claim takes for its worker straight from
--   pending to in_progress, with the lease _lease_steps gives, in the same UPDATE that enqueues
--   the others; report_and_claim then only reads them (tasker._claimed_steps, _lease_steps'
--   read). A later report in the same call that fails their task finds them in_progress, so
--   _cancel_open_steps also cancels the steps this transaction claimed that way (they were
--   cancelled as enqueued steps before) and they are not handed out;
-- - report_steps counts such a successor as enqueued, as it did.
--
-- The logs do not change: a row written past a state its path goes through is logged with that
-- state in between, each hop checked against the state machine as before (no transition is
-- added). The hops: a task inserted in_progress (NULL -> pending -> in_progress), a step inserted
-- enqueued (NULL -> pending -> enqueued; the machine has allowed NULL -> enqueued since 0001, but
-- nothing inserted such a step) and a step updated from pending to in_progress (pending ->
-- enqueued -> in_progress). The first hop carries the statement's reason, like every row the
-- statement moves one hop; the second the reason in the setting tasker.then_reason. The insert
-- triggers write both hops in their one statement; for updates, _log_step_changes writes the
-- second and a row trigger whose WHEN clause only those rows pass writes the first, so the
-- one-hop changes that make up nearly every batch pay a CASE for the rule (EXPLAIN ANALYZE of
-- an UPDATE of 50 steps: the log trigger within 0.1 ms of 0021's). Whether a successor was
-- claimed directly or through the queue so still leaves the same history, which the conformance
-- suite compares across cells.

-- tasker._then_reason: the reason logged for the second hop of a row written past a state
-- (tasker.then_reason, else the statement's reason).
CREATE FUNCTION tasker._then_reason() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('tasker.then_reason', true), ''), tasker._reason());
$$;

-- tasker._log_new_tasks: 0021's (every inserted task is logged, its initial state checked
-- against task_state_machine, else TK100), a task inserted in_progress logged as created pending
-- and then moved on.
CREATE OR REPLACE FUNCTION tasker._log_new_tasks() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tasker.task_transitions (task_id, from_state, to_state, actor, reason)
  SELECT h.task_id, h.from_state,
         CASE WHEN EXISTS (SELECT 1 FROM tasker.task_state_machine m
                           WHERE m.from_state IS NOT DISTINCT FROM h.from_state AND m.to_state = h.to_state)
              THEN h.to_state
              ELSE tasker._refuse_transition('task', h.from_state, h.to_state, h.task_id) END,
         tasker._actor(), h.reason
  FROM (SELECT n.task_id, NULL::text AS from_state,
               CASE WHEN n.state = 'in_progress' THEN 'pending' ELSE n.state END AS to_state,
               tasker._reason() AS reason
        FROM new_rows n
        UNION ALL
        SELECT n.task_id, 'pending', n.state, tasker._then_reason()
        FROM new_rows n WHERE n.state = 'in_progress') h;
  RETURN NULL;
END
$$;

-- tasker._log_new_steps: 0021's, a step inserted enqueued logged as created pending and then
-- enqueued.
CREATE OR REPLACE FUNCTION tasker._log_new_steps() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tasker.step_transitions
    (step_id, task_id, from_state, to_state, attempt, delivery, actor, reason)
  SELECT h.step_id, h.task_id, h.from_state,
         CASE WHEN EXISTS (SELECT 1 FROM tasker.step_state_machine m
                           WHERE m.from_state IS NOT DISTINCT FROM h.from_state AND m.to_state = h.to_state)
              THEN h.to_state
              ELSE tasker._refuse_transition('step', h.from_state, h.to_state, h.step_id) END,
         h.attempt, h.deliveries, tasker._actor(), h.reason
  FROM (SELECT n.step_id, n.task_id, NULL::text AS from_state,
               CASE WHEN n.state = 'enqueued' THEN 'pending' ELSE n.state END AS to_state,
               n.attempt, n.deliveries, tasker._reason() AS reason
        FROM new_rows n
        UNION ALL
        SELECT n.step_id, n.task_id, 'pending', n.state, n.attempt, n.deliveries, tasker._then_reason()
        FROM new_rows n WHERE n.state = 'enqueued') h;
  RETURN NULL;
END
$$;

-- tasker._log_step_changes: 0021's (one statement: changes grouped by key, each checked against
-- step_state_machine, else TK100), a step updated from pending to in_progress logged as
-- enqueued -> in_progress with the second hop's reason; its pending -> enqueued row is written
-- just before by _log_claim_on_enqueue. So rows changed in one hop, nearly all of them, pay only
-- a CASE for the rule.
CREATE OR REPLACE FUNCTION tasker._log_step_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tasker.step_transitions
    (step_id, task_id, from_state, to_state, attempt, delivery, actor, reason)
  SELECT c.step_id, c.task_id, c.from_state,
         CASE WHEN EXISTS (SELECT 1 FROM tasker.step_state_machine m
                           WHERE m.from_state = c.from_state AND m.to_state = c.to_state)
              THEN c.to_state
              ELSE tasker._refuse_transition('step', c.from_state, c.to_state, c.step_id) END,
         c.attempt, c.deliveries, tasker._actor(),
         CASE WHEN c.two_hops THEN tasker._then_reason() ELSE tasker._reason() END
  FROM (
    SELECT u.step_id, u.task_id,
           CASE WHEN min(u.state) FILTER (WHERE u.old) = 'pending'
                 AND min(u.state) FILTER (WHERE NOT u.old) = 'in_progress'
                THEN 'enqueued' ELSE min(u.state) FILTER (WHERE u.old) END AS from_state,
           min(u.state) FILTER (WHERE NOT u.old) AS to_state,
           min(u.state) FILTER (WHERE u.old) = 'pending'
             AND min(u.state) FILTER (WHERE NOT u.old) = 'in_progress' AS two_hops,
           min(u.attempt) FILTER (WHERE u.old) AS old_attempt,
           min(u.attempt) FILTER (WHERE NOT u.old) AS attempt,
           min(u.deliveries) FILTER (WHERE u.old) AS old_deliveries,
           min(u.deliveries) FILTER (WHERE NOT u.old) AS deliveries
    FROM (SELECT true AS old, o.step_id, o.task_id, o.state, o.attempt, o.deliveries FROM old_rows o
          UNION ALL
          SELECT false, n.step_id, n.task_id, n.state, n.attempt, n.deliveries FROM new_rows n) u
    GROUP BY u.step_id, u.task_id
  ) c
  WHERE c.from_state <> c.to_state OR c.old_attempt <> c.attempt OR c.old_deliveries <> c.deliveries;
  RETURN NULL;
END
$$;

-- tasker._log_claim_on_enqueue: the first hop of a step updated from pending to in_progress
-- (pending -> enqueued, its old delivery, the statement's reason), checked against
-- step_state_machine like every logged transition. A row trigger whose WHEN clause picks those
-- rows: PostgreSQL runs AFTER row triggers before AFTER statement triggers, so this row precedes
-- the enqueued -> in_progress row _log_step_changes writes for the same change.
CREATE FUNCTION tasker._log_claim_on_enqueue() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tasker.step_transitions
    (step_id, task_id, from_state, to_state, attempt, delivery, actor, reason)
  SELECT NEW.step_id, NEW.task_id, 'pending',
         CASE WHEN EXISTS (SELECT 1 FROM tasker.step_state_machine m
                           WHERE m.from_state = 'pending' AND m.to_state = 'enqueued')
              THEN 'enqueued'
              ELSE tasker._refuse_transition('step', 'pending', 'enqueued', NEW.step_id) END,
         NEW.attempt, OLD.deliveries, tasker._actor(), tasker._reason();
  RETURN NULL;
END
$$;

CREATE TRIGGER workflow_steps_log_claim_on_enqueue
  AFTER UPDATE ON tasker.workflow_steps
  FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state = 'in_progress')
  EXECUTE FUNCTION tasker._log_claim_on_enqueue();

-- tasker.create_task: 0009's contract (validates, creates the task, its steps and edges from the
-- template, enqueues the root steps, all in one transaction; an idempotency key returns the
-- existing task), each row written once.
CREATE OR REPLACE FUNCTION tasker.create_task(
  p_namespace text,
  p_name text,
  p_version text,
  p_context jsonb,
  p_idempotency_key text DEFAULT NULL,
  p_correlation_id text DEFAULT NULL,
  p_priority int DEFAULT 0,
  p_tags text[] DEFAULT '{}',
  p_initiator text DEFAULT NULL,
  p_timeout_ms bigint DEFAULT NULL
) RETURNS TABLE (task_id uuid, created boolean, state text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
  v_namespace_id uuid;
  v_named_task_id uuid;
  v_task_id uuid;
  v_named uuid[];
  v_ids uuid[];
  v_roots uuid[];
  v_msgs bigint[];
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
  IF p_timeout_ms IS NOT NULL AND p_timeout_ms NOT BETWEEN 1 AND 2592000000 THEN
    RAISE EXCEPTION 'invalid task timeout %: must be 1 ms to 30 days', p_timeout_ms
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'timeout_ms')::text;
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
         ns.inputs, ns.max_attempts, ns.max_deliveries, ns.retryable, ns.backoff_ms, ns.max_backoff_ms,
         ns.timeout_ms
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

-- tasker._claimed_steps: what a worker needs to run each of the given steps, which this
-- transaction has leased (claim_steps' row shape, in message order). Reads only. The same SELECT
-- as _lease_steps' (0014), which reads the rows its UPDATE returns in the same statement: handing
-- those to this function instead costs a second statement and read per claim (measured: ~25 µs
-- per step at a claim of 50), so each keeps its own.
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
  JOIN tasker.tasks t ON t.task_id = s.task_id
  JOIN tasker.named_tasks nt ON nt.named_task_id = t.named_task_id
  JOIN tasker.namespaces n ON n.namespace_id = t.namespace_id
  WHERE s.step_id = ANY (p_step_ids)
  ORDER BY s.msg_id;
END
$$;

-- tasker._enqueue_steps_many: 0024's contract (sends every pending step of p_step_ids to its
-- namespace queue and marks it enqueued; inside report_and_claim the first steps, up to the
-- claim's room, are sent hidden for the lease), those steps now leased in the same write.
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
    JOIN tasker.tasks t ON t.task_id = s.task_id
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

-- tasker._cancel_open_steps: 0005's contract (cancels the task's steps that have not started and
-- deletes their messages), counting the steps this transaction claimed directly as not started.
CREATE OR REPLACE FUNCTION tasker._cancel_open_steps(p_task_id uuid, p_namespace text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_msgs bigint[];
  v_count int;
BEGIN
  WITH cancelled AS (
    UPDATE tasker.workflow_steps s
    SET state = 'cancelled', finished_at = clock_timestamp(), updated_at = now()
    WHERE s.task_id = p_task_id
      AND (s.state IN ('pending', 'enqueued', 'waiting_for_retry')
           OR (s.state = 'in_progress'
               AND s.step_id = ANY (coalesce(nullif(current_setting('tasker.direct_claimed', true), ''), '{}')::uuid[])))
    RETURNING s.msg_id, s.state AS old_state
  )
  SELECT array_agg(c.msg_id) FILTER (WHERE c.msg_id IS NOT NULL), count(*)
  INTO v_msgs, v_count FROM cancelled c;
  IF v_msgs IS NOT NULL THEN
    PERFORM pgmq.delete(tasker.queue_name(p_namespace), v_msgs);
  END IF;
  RETURN v_count;
END
$$;

-- tasker.report_and_claim: 0016's contract; the directly claimed successors are already leased.
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
          set_config('tasker.direct_claim_worker', coalesce(p_worker_id, ''), true),
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
          set_config('tasker.direct_claim_worker', '', true),
          set_config('tasker.direct_claimed', '{}', true);

  report_index := NULL; step_id := NULL; accepted := NULL; reason := NULL; step_state := NULL;
  task_state := NULL; next_retry_at := NULL; enqueued := NULL;

  -- The successors _enqueue_steps_many leased for this worker; a later report that failed their
  -- task cancelled them (_cancel_open_steps), and they are not handed out.
  IF cardinality(v_direct) > 0 THEN
    FOR claim IN
      SELECT to_jsonb(c)
      FROM tasker._claimed_steps(ARRAY(
             SELECT s.step_id FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
             WHERE s.step_id = ANY (v_direct) AND s.state IS NOT DISTINCT FROM 'in_progress'
               AND t.state IS NOT DISTINCT FROM 'in_progress')) c
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

-- tasker.report_steps: 0023's body; a successor claimed directly counts as enqueued.
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
  WHERE t.task_id IN (SELECT s.task_id FROM tasker.workflow_steps s WHERE s.step_id = ANY (v_ids))
  ORDER BY t.task_id
  FOR NO KEY UPDATE;

  -- The first report of each step is a plain success whose lease still holds: the fast path.
  -- Each held step finds its first report by position in the arrays (array_position returns the
  -- first match) instead of a join: the planner, which cannot count the rows of an array
  -- parameter, ran that join as a nested loop over both sides (O(batch²) rows visited).
  WITH held AS (
    SELECT s.step_id, s.task_id, s.state, s.attempt, s.deliveries, s.step_type, t.state AS task_state,
           array_position(v_ids, s.step_id) AS i
    FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
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
    FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_id = s.task_id
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
