-- Step messages are sent a batch at a time.
--
-- _enqueue_steps_many (a report's successors, a task's roots) called pgmq.send once per step, and
-- pgmq.send builds and plans its INSERT as dynamic SQL on every call: a report of 50 steps that
-- each had a successor ran 50 of them (test/protocol/batch-complexity.test.ts counted 2,444
-- nested statements in a report-and-claim of 300). PGMQ's send_batch inserts any number of
-- messages with one such statement. tasker._send_step_messages wraps it for step messages, and
-- _enqueue_steps_many and _send_steps (a retry's message) both send through it, so the message
-- format and the id order rule live in one place.
--
-- Which message is which step's: send_batch's INSERT takes the messages in array order, and
-- msg_id comes from the queue's identity sequence, whose values increase in the order rows are
-- inserted (another session's sends only leave gaps), so the k-th smallest id returned belongs
-- to the k-th message sent.
--
-- Measured with `node bench/dist/migration-ab.js --without 0024 --steps 2 --batch 50 --tasks 2500`
-- (2-step chains claimed and reported 50 at a time, alternating databases): report_steps 341 vs
-- 400 µs per step, claim + report 572 vs 630; the 4-step workflow within 1%. A first version sent
-- a lone message through send_batch too and made the 4-step workflow ~4% slower (send_batch's
-- extra layers), hence pgmq.send for one message (both runs are in bench/results/migration-ab.md).

-- tasker._send_step_messages: sends one message per step (task, step, attempt, in array order)
-- to the namespace's queue with one pgmq.send_batch (pgmq.send for one), visible at p_visible_at
-- (now when NULL), and returns their msg ids in the same order. Sends nothing and returns '{}' for
-- no steps.
CREATE FUNCTION tasker._send_step_messages(
  p_namespace text, p_task_ids uuid[], p_step_ids uuid[], p_attempts int[], p_visible_at timestamptz
) RETURNS bigint[]
LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(p_step_ids), 0) = 0 THEN
    RETURN '{}';
  END IF;
  -- One message: pgmq.send, which has fewer layers than send_batch (its validation, then the
  -- private batch insert): the common case of a linear workflow's report.
  IF cardinality(p_step_ids) = 1 THEN
    RETURN ARRAY(
      SELECT m.msg_id
      FROM pgmq.send(tasker.queue_name(p_namespace),
                     tasker._step_message(p_task_ids[1], p_step_ids[1], p_attempts[1]),
                     NULL::jsonb,
                     coalesce(p_visible_at, clock_timestamp())) AS m(msg_id));
  END IF;
  RETURN ARRAY(
    SELECT m.msg_id
    FROM pgmq.send_batch(
           tasker.queue_name(p_namespace),
           ARRAY(SELECT tasker._step_message(x.task_id, x.step_id, x.attempt)
                 FROM unnest(p_task_ids, p_step_ids, p_attempts) WITH ORDINALITY AS x(task_id, step_id, attempt, ord)
                 ORDER BY x.ord),
           NULL::jsonb[],
           coalesce(p_visible_at, clock_timestamp())) AS m(msg_id)
    ORDER BY m.msg_id);
END
$$;

-- tasker._send_steps: 0003's contract (one message per given step of one task, visible at
-- p_visible_at or now; each step with its msg id; listeners of the namespace woken with the delay
-- in milliseconds), sent as one batch.
CREATE OR REPLACE FUNCTION tasker._send_steps(
  p_namespace text, p_task_id uuid, p_step_ids uuid[], p_attempts int[], p_visible_at timestamptz
) RETURNS TABLE (step_id uuid, msg_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_delay_ms bigint := greatest(0, floor(extract(epoch FROM
                         (coalesce(p_visible_at, clock_timestamp()) - clock_timestamp())) * 1000))::bigint;
BEGIN
  IF coalesce(cardinality(p_step_ids), 0) = 0 THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT s.step_id, s.msg_id
  FROM unnest(p_step_ids,
              tasker._send_step_messages(p_namespace, array_fill(p_task_id, ARRAY[cardinality(p_step_ids)]),
                                         p_step_ids, p_attempts, p_visible_at)) AS s(step_id, msg_id);
  PERFORM pg_notify('tasker_queue_' || p_namespace, v_delay_ms::text);
END
$$;

-- tasker._enqueue_steps_many: 0016's contract and body; each namespace's messages go out in at
-- most two batches (the directly claimed ones hidden for the lease, the rest visible now).
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
  SET state = 'enqueued', msg_id = v_msgs[array_position(v_ids, w.step_id)],
      enqueued_at = now(), updated_at = now()
  WHERE w.step_id = ANY (v_ids);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
