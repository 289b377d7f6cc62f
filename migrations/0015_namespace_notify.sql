-- A new namespace is announced on channel tasker_namespace (payload: its name).
--
-- An event-driven orchestrator listens on the queue channel of every namespace it knows, and
-- learned of a namespace registered while it slept only at its next wake-up: up to a minute in
-- which a task created there went unseen (a deadline was swept late). The announcement wakes it
-- at once, so it reads the namespaces again and listens to the new one before anything can be
-- enqueued there (the NOTIFY is delivered at the commit that creates the namespace).

-- tasker.ensure_namespace (0002's contract): returns the id of the namespace, creating it and
-- its PGMQ queue (worker_<namespace>_queue) the first time, and then (only then) notifies
-- tasker_namespace with its name, delivered at commit. Safe under concurrent callers: exactly
-- one row, one queue and one notification. Invalid names raise TK002 and create nothing.
CREATE OR REPLACE FUNCTION tasker.ensure_namespace(p_namespace text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_queue text := tasker.queue_name(p_namespace);
  v_id uuid;
BEGIN
  SELECT namespace_id INTO v_id FROM tasker.namespaces WHERE name = p_namespace;
  IF FOUND THEN
    RETURN v_id;
  END IF;
  INSERT INTO tasker.namespaces (name) VALUES (p_namespace)
  ON CONFLICT (name) DO NOTHING
  RETURNING namespace_id INTO v_id;
  IF v_id IS NULL THEN
    SELECT namespace_id INTO v_id FROM tasker.namespaces WHERE name = p_namespace;
    RETURN v_id;
  END IF;
  PERFORM pgmq.create(v_queue);
  PERFORM pg_notify('tasker_namespace', p_namespace);
  RETURN v_id;
END
$$;
