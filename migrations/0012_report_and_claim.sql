-- Report and claim in one round trip. A worker that reports a step whose successor is then
-- enqueued used to learn of it from NOTIFY after the commit and claim it in a second round trip
-- (a second commit, and a hop through the listener): for a linear workflow, every step after the
-- first paid for both. report_and_claim commits the reports and, in the same transaction, claims
-- for the reporting worker from the namespaces where those reports enqueued successors.
--
-- Nothing here is a new rule: reports go through report_steps and claims through claim_steps,
-- unchanged, so every guarantee of those two holds (a claim is a claim, wherever it is made).

-- ---------------------------------------------------------------------------------------------
-- Queue notifications a transaction can hold back
-- ---------------------------------------------------------------------------------------------

-- tasker._notify_queue: announces that the steps `p_step_ids` were just enqueued in
-- `p_namespace` (NOTIFY tasker_queue_<namespace>, payload '0', delivered at commit), unless the
-- transaction holds queue notifications (report_and_claim does, while its reports run): then
-- their ids are kept in the transaction's held set, and the holder announces those it does not
-- claim itself. More steps than one claim can take (1,000) are announced at once.
CREATE FUNCTION tasker._notify_queue(p_namespace text, p_step_ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_held jsonb;
BEGIN
  IF current_setting('tasker.hold_queue_notify', true) IS DISTINCT FROM 'on'
     OR cardinality(p_step_ids) > 1000 THEN
    PERFORM pg_notify('tasker_queue_' || p_namespace, '0');
    RETURN;
  END IF;
  v_held := coalesce(nullif(current_setting('tasker.held_queue_notify', true), ''), '{}')::jsonb;
  v_held := jsonb_set(v_held, ARRAY[p_namespace],
                      coalesce(v_held -> p_namespace, '[]'::jsonb) || to_jsonb(p_step_ids));
  PERFORM set_config('tasker.held_queue_notify', v_held::text, true);
END
$$;

-- tasker._enqueue_steps_many: 0010's, unchanged but for announcing through _notify_queue.
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

-- tasker.report_and_claim: applies p_reports exactly as report_steps does and returns its rows
-- (kind 'report'); then, when p_claim_max > 0, claims up to p_claim_max steps in total for
-- p_worker_id (lease p_lease_seconds), namespace by namespace in name order, from the namespaces
-- where the reports enqueued steps, and returns what claim_steps returned (kind 'claimed',
-- 'discarded' or 'deferred', the row as jsonb in `claim`). The claim sees the steps just
-- enqueued (same transaction), so a ready successor goes to the worker that finished its
-- predecessor unless older messages are ahead of it in its queue.
-- The reports' queue notifications are held back: a namespace is announced (NOTIFY, at commit)
-- unless this claim took every step the reports enqueued there, so other workers and this
-- worker's claim loops are not woken for steps already claimed. If anything
-- fails, nothing is reported, claimed or announced.
CREATE FUNCTION tasker.report_and_claim(
  p_reports jsonb,
  p_worker_id text,
  p_claim_max int,
  p_lease_seconds int DEFAULT 30
) RETURNS TABLE (
  kind text, report_index int, step_id uuid, accepted boolean, reason text, step_state text,
  task_state text, next_retry_at timestamptz, enqueued int, claim jsonb
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_left int := coalesce(p_claim_max, 0);
  v_row record;
  v_held jsonb;
  v_namespace text;
  v_enqueued uuid[];
  v_claimed uuid[];
BEGIN
  IF v_left < 0 OR v_left > 1000 THEN
    RAISE EXCEPTION 'invalid claim size %: must be from 0 to 1000', p_claim_max
      USING ERRCODE = 'TK007', DETAIL = json_build_object('field', 'claim_max')::text;
  END IF;

  PERFORM set_config('tasker.hold_queue_notify', 'on', true);
  PERFORM set_config('tasker.held_queue_notify', '{}', true);
  FOR v_row IN SELECT * FROM tasker.report_steps(p_reports, p_worker_id) r LOOP
    kind := 'report'; report_index := v_row.report_index; step_id := v_row.step_id;
    accepted := v_row.accepted; reason := v_row.reason; step_state := v_row.step_state;
    task_state := v_row.task_state; next_retry_at := v_row.next_retry_at;
    enqueued := v_row.enqueued; claim := NULL;
    RETURN NEXT;
  END LOOP;
  PERFORM set_config('tasker.hold_queue_notify', 'off', true);
  v_held := coalesce(nullif(current_setting('tasker.held_queue_notify', true), ''), '{}')::jsonb;
  PERFORM set_config('tasker.held_queue_notify', '{}', true);

  report_index := NULL; step_id := NULL; accepted := NULL; reason := NULL; step_state := NULL;
  task_state := NULL; next_retry_at := NULL; enqueued := NULL;
  FOR v_namespace, v_enqueued IN
    SELECT h.key, ARRAY(SELECT jsonb_array_elements_text(h.value)::uuid)
    FROM jsonb_each(v_held) h ORDER BY h.key
  LOOP
    v_claimed := '{}';
    IF v_left > 0 THEN
      FOR kind, claim IN
        SELECT c.outcome, to_jsonb(c)
        FROM tasker.claim_steps(v_namespace, v_left, p_lease_seconds, p_worker_id) c
      LOOP
        IF kind = 'claimed' THEN
          v_claimed := v_claimed || (claim ->> 'step_id')::uuid;
        END IF;
        RETURN NEXT;
      END LOOP;
      v_left := v_left - cardinality(v_claimed);
    END IF;
    IF NOT (v_enqueued <@ v_claimed) THEN
      PERFORM pg_notify('tasker_queue_' || v_namespace, '0');
    END IF;
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Generic plans on the hot path
-- ---------------------------------------------------------------------------------------------

-- PL/pgSQL plans each query of these functions once per session, but with the default
-- plan_cache_mode (auto) a query whose parameters are arrays or jsonb keeps being given a custom
-- plan, re-planned on every call: the planner's estimate for the generic plan is never clearly
-- better. On the two-core reference machine that planning was most of the time of a call:
-- claim_steps took 9.1 ms p50 with it and 4.4 ms with generic plans, report_and_claim 15.0 ms
-- and 8.8 ms (1-step calls of a 4-step workflow, 400 calls in one session). The queries here
-- select by primary key or by the arrays passed in, so the generic plan is the right plan for
-- any batch size; and the triggers these calls fire were made linear whatever their plan (0010).
-- The setting applies while each function runs (and to what it calls), nowhere else.
ALTER FUNCTION tasker.claim_steps(text, int, int, text) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker.report_steps(jsonb, text) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker.report_step(uuid, int, int, text, jsonb, jsonb, int, text[], text, jsonb)
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker.report_and_claim(jsonb, text, int, int) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker.create_task(text, text, text, jsonb, text, text, int, text[], text, bigint)
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker.extend_leases(uuid[], int[], int[], int) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker.release_leases(uuid[], int[], int[], text) SET plan_cache_mode = force_generic_plan;
