-- 0001: the tasker schema.
--
-- Tables for namespaces, templates (named tasks and named steps), tasks, workflow steps and the
-- edges between them, plus append-only transition logs. The current state of a task or step is
-- kept on its row (it is the compare-and-swap target of every protocol function) and mirrored by
-- the transition row flagged most_recent; statement-level triggers write that log and refuse any
-- transition the state machines below do not list, so an illegal transition cannot be committed
-- by anyone, protocol function or hand-written UPDATE alike.

CREATE SCHEMA IF NOT EXISTS tasker;

-- uuid_v7(): time-ordered keys keep B-tree inserts at the right-hand edge of each index.
-- PostgreSQL 18 has uuidv7() built in; older servers get an equivalent built on gen_random_uuid().
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 180000 THEN
    EXECUTE $f$
      CREATE OR REPLACE FUNCTION tasker.uuid_v7() RETURNS uuid
      LANGUAGE sql VOLATILE PARALLEL SAFE AS 'SELECT uuidv7()'
    $f$;
  ELSE
    EXECUTE $f$
      CREATE OR REPLACE FUNCTION tasker.uuid_v7() RETURNS uuid
      LANGUAGE plpgsql VOLATILE PARALLEL SAFE AS $body$
      DECLARE
        v_bytes bytea := uuid_send(gen_random_uuid());
        v_millis bytea := int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint);
      BEGIN
        v_bytes := overlay(v_bytes PLACING substring(v_millis FROM 3) FROM 1 FOR 6);
        v_bytes := set_byte(v_bytes, 6, (get_byte(v_bytes, 6) & 15) | 112);
        RETURN encode(v_bytes, 'hex')::uuid;
      END
      $body$
    $f$;
  END IF;
END
$$;

COMMENT ON FUNCTION tasker.uuid_v7() IS
  'Returns a time-ordered UUID (version 7); never repeats, increases with time within a session.';

-- ---------------------------------------------------------------------------------------------
-- State machines. Rows with from_state NULL list the states a row may be created in.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE tasker.task_state_machine (
  from_state text,
  to_state   text NOT NULL,
  UNIQUE NULLS NOT DISTINCT (from_state, to_state)
);

INSERT INTO tasker.task_state_machine (from_state, to_state) VALUES
  (NULL,          'pending'),
  ('pending',     'in_progress'),
  ('pending',     'cancelled'),
  ('pending',     'error'),
  ('in_progress', 'complete'),
  ('in_progress', 'error'),
  ('in_progress', 'cancelled');

CREATE TABLE tasker.step_state_machine (
  from_state text,
  to_state   text NOT NULL,
  UNIQUE NULLS NOT DISTINCT (from_state, to_state)
);

-- in_progress -> in_progress is a redelivery: the lease expired and another claim took the step.
INSERT INTO tasker.step_state_machine (from_state, to_state) VALUES
  (NULL,                'pending'),
  (NULL,                'enqueued'),
  ('pending',           'enqueued'),
  ('pending',           'skipped'),
  ('pending',           'cancelled'),
  ('enqueued',          'in_progress'),
  ('enqueued',          'cancelled'),
  ('in_progress',       'in_progress'),
  ('in_progress',       'complete'),
  ('in_progress',       'waiting_for_retry'),
  ('in_progress',       'error'),
  ('in_progress',       'cancelled'),
  ('waiting_for_retry', 'in_progress'),
  ('waiting_for_retry', 'cancelled');

-- ---------------------------------------------------------------------------------------------
-- Templates
-- ---------------------------------------------------------------------------------------------

-- Namespace names end up inside PGMQ queue names (worker_<namespace>_queue), which PGMQ
-- interpolates into SQL and limits to 47 characters: hence the strict pattern and 34 characters.
CREATE TABLE tasker.namespaces (
  namespace_id uuid PRIMARY KEY DEFAULT tasker.uuid_v7(),
  name         text NOT NULL UNIQUE
               CONSTRAINT namespace_name_format CHECK (name ~ '^[a-z][a-z0-9_]{0,33}$'),
  queue_name   text GENERATED ALWAYS AS ('worker_' || name || '_queue') STORED,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasker.named_tasks (
  named_task_id   uuid PRIMARY KEY DEFAULT tasker.uuid_v7(),
  namespace_id    uuid NOT NULL REFERENCES tasker.namespaces (namespace_id),
  name            text NOT NULL CONSTRAINT named_task_name_format CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
  version         text NOT NULL CONSTRAINT named_task_version_format
                  CHECK (version ~ '^[0-9]{1,6}\.[0-9]{1,6}\.[0-9]{1,6}$'),
  version_sort    int[] GENERATED ALWAYS AS (string_to_array(version, '.')::int[]) STORED,
  description     text,
  input_schema    jsonb,
  definition      jsonb NOT NULL,
  definition_hash text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (namespace_id, name, version)
);

CREATE INDEX named_tasks_latest ON tasker.named_tasks (namespace_id, name, version_sort DESC);

CREATE TABLE tasker.named_steps (
  named_step_id  uuid PRIMARY KEY DEFAULT tasker.uuid_v7(),
  named_task_id  uuid NOT NULL REFERENCES tasker.named_tasks (named_task_id) ON DELETE CASCADE,
  name           text NOT NULL,
  position       int NOT NULL,
  handler        text NOT NULL,
  step_type      text NOT NULL,
  dependencies   text[] NOT NULL DEFAULT '{}',
  inputs         jsonb NOT NULL DEFAULT '{}',
  max_attempts   int NOT NULL,
  retryable      boolean NOT NULL,
  backoff_ms     int NOT NULL,
  max_backoff_ms int NOT NULL,
  timeout_ms     int NOT NULL,
  max_deliveries int NOT NULL,
  UNIQUE (named_task_id, name)
);

-- ---------------------------------------------------------------------------------------------
-- Tasks and steps
-- ---------------------------------------------------------------------------------------------

CREATE TABLE tasker.tasks (
  task_id         uuid PRIMARY KEY DEFAULT tasker.uuid_v7(),
  named_task_id   uuid NOT NULL REFERENCES tasker.named_tasks (named_task_id),
  namespace_id    uuid NOT NULL REFERENCES tasker.namespaces (namespace_id),
  state           text NOT NULL DEFAULT 'pending'
                  CONSTRAINT task_state_known
                  CHECK (state IN ('pending', 'in_progress', 'complete', 'error', 'cancelled')),
  context         jsonb NOT NULL DEFAULT '{}'
                  CONSTRAINT task_context_is_object CHECK (jsonb_typeof(context) = 'object'),
  tags            text[] NOT NULL DEFAULT '{}',
  priority        int NOT NULL DEFAULT 0,
  idempotency_key text,
  correlation_id  text NOT NULL,
  initiator       text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  CONSTRAINT task_idempotency UNIQUE (named_task_id, idempotency_key)
);

CREATE INDEX tasks_by_state ON tasker.tasks (state, created_at);
CREATE INDEX tasks_unfinished ON tasker.tasks (created_at) WHERE finished_at IS NULL;
CREATE INDEX tasks_by_correlation ON tasker.tasks (correlation_id);
CREATE INDEX tasks_by_tags ON tasker.tasks USING gin (tags);

CREATE TABLE tasker.workflow_steps (
  step_id          uuid PRIMARY KEY DEFAULT tasker.uuid_v7(),
  task_id          uuid NOT NULL REFERENCES tasker.tasks (task_id) ON DELETE CASCADE,
  named_step_id    uuid REFERENCES tasker.named_steps (named_step_id) ON DELETE SET NULL,
  name             text NOT NULL,
  handler          text NOT NULL,
  step_type        text NOT NULL,
  state            text NOT NULL
                   CONSTRAINT step_state_known CHECK (state IN (
                     'pending', 'enqueued', 'in_progress', 'waiting_for_retry',
                     'complete', 'error', 'cancelled', 'skipped')),
  inputs           jsonb NOT NULL DEFAULT '{}',
  results          jsonb,
  last_error       jsonb,
  -- attempt counts handler executions that ended in a report (1-based, the current one);
  -- deliveries counts claims of the current attempt, so (attempt, deliveries) names one lease.
  attempt          int NOT NULL DEFAULT 1 CONSTRAINT step_attempt_positive CHECK (attempt >= 1),
  max_attempts     int NOT NULL CONSTRAINT step_max_attempts_positive CHECK (max_attempts >= 1),
  deliveries       int NOT NULL DEFAULT 0 CONSTRAINT step_deliveries_not_negative CHECK (deliveries >= 0),
  max_deliveries   int NOT NULL CONSTRAINT step_max_deliveries_positive CHECK (max_deliveries >= 1),
  retryable        boolean NOT NULL,
  backoff_ms       int NOT NULL,
  max_backoff_ms   int NOT NULL,
  timeout_ms       int NOT NULL,
  msg_id           bigint,
  claimed_by       text,
  lease_expires_at timestamptz,
  next_retry_at    timestamptz,
  enqueued_at      timestamptz,
  started_at       timestamptz,
  finished_at      timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, name)
);

-- The sweeper looks for leases that ran out.
CREATE INDEX workflow_steps_leases ON tasker.workflow_steps (lease_expires_at)
  WHERE state = 'in_progress';
-- Readiness and finalization look at the unfinished steps of one task.
CREATE INDEX workflow_steps_open_by_task ON tasker.workflow_steps (task_id, state)
  WHERE state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry');

CREATE TABLE tasker.workflow_step_edges (
  task_id      uuid NOT NULL REFERENCES tasker.tasks (task_id) ON DELETE CASCADE,
  from_step_id uuid NOT NULL REFERENCES tasker.workflow_steps (step_id) ON DELETE CASCADE,
  to_step_id   uuid NOT NULL REFERENCES tasker.workflow_steps (step_id) ON DELETE CASCADE,
  PRIMARY KEY (from_step_id, to_step_id),
  CONSTRAINT edge_not_a_loop CHECK (from_step_id <> to_step_id)
);

CREATE INDEX workflow_step_edges_to ON tasker.workflow_step_edges (to_step_id);

-- ---------------------------------------------------------------------------------------------
-- Transition logs: append-only apart from the most_recent flag, which the triggers move.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE tasker.task_transitions (
  transition_id uuid PRIMARY KEY DEFAULT tasker.uuid_v7(),
  task_id       uuid NOT NULL REFERENCES tasker.tasks (task_id) ON DELETE CASCADE,
  from_state    text,
  to_state      text NOT NULL,
  most_recent   boolean NOT NULL DEFAULT true,
  actor         text NOT NULL,
  reason        text,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE UNIQUE INDEX task_transitions_current ON tasker.task_transitions (task_id) WHERE most_recent;
CREATE INDEX task_transitions_history ON tasker.task_transitions (task_id, transition_id);

CREATE TABLE tasker.step_transitions (
  transition_id uuid PRIMARY KEY DEFAULT tasker.uuid_v7(),
  step_id       uuid NOT NULL REFERENCES tasker.workflow_steps (step_id) ON DELETE CASCADE,
  task_id       uuid NOT NULL,
  from_state    text,
  to_state      text NOT NULL,
  attempt       int NOT NULL,
  delivery      int NOT NULL,
  most_recent   boolean NOT NULL DEFAULT true,
  actor         text NOT NULL,
  reason        text,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE UNIQUE INDEX step_transitions_current ON tasker.step_transitions (step_id) WHERE most_recent;
CREATE INDEX step_transitions_history ON tasker.step_transitions (step_id, transition_id);
CREATE INDEX step_transitions_by_task ON tasker.step_transitions (task_id);

-- ---------------------------------------------------------------------------------------------
-- Who and why: protocol functions name the actor and the reason of the transitions they cause
-- through transaction-local settings, which the triggers read.
-- ---------------------------------------------------------------------------------------------

-- tasker._set_actor: guarantees the next transitions in this transaction are attributed to
-- p_actor with p_reason (until the next call); both reset when the transaction ends.
CREATE FUNCTION tasker._set_actor(p_actor text, p_reason text) RETURNS void
LANGUAGE sql VOLATILE AS $$
  SELECT set_config('tasker.actor', coalesce(p_actor, ''), true),
         set_config('tasker.reason', coalesce(p_reason, ''), true);
$$;

-- tasker._actor: the actor named by _set_actor, or the database role when none was named.
CREATE FUNCTION tasker._actor() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('tasker.actor', true), ''), current_user::text);
$$;

-- tasker._reason: the reason named by _set_actor, or NULL.
CREATE FUNCTION tasker._reason() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('tasker.reason', true), '');
$$;

-- ---------------------------------------------------------------------------------------------
-- Triggers
-- ---------------------------------------------------------------------------------------------

-- tasker._log_new_tasks: every new task starts in a state the task machine allows as initial,
-- and gets its first transition row.
CREATE FUNCTION tasker._log_new_tasks() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_bad record;
BEGIN
  SELECT n.task_id, n.state INTO v_bad FROM new_rows n
  WHERE NOT EXISTS (SELECT 1 FROM tasker.task_state_machine m
                    WHERE m.from_state IS NULL AND m.to_state = n.state)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'illegal initial task state "%" for task %', v_bad.state, v_bad.task_id
      USING ERRCODE = 'TK100';
  END IF;
  INSERT INTO tasker.task_transitions (task_id, from_state, to_state, actor, reason)
  SELECT n.task_id, NULL, n.state, tasker._actor(), tasker._reason() FROM new_rows n;
  RETURN NULL;
END
$$;

-- tasker._log_task_changes: a task's state changes only along task_state_machine; each change
-- is appended to task_transitions (moving most_recent) and terminal states are announced on
-- channel tasker_task_state so waiters wake at once.
CREATE FUNCTION tasker._log_task_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_bad record;
  v_done record;
BEGIN
  SELECT o.task_id, o.state AS from_state, n.state AS to_state INTO v_bad
  FROM old_rows o JOIN new_rows n USING (task_id)
  WHERE o.state <> n.state
    AND NOT EXISTS (SELECT 1 FROM tasker.task_state_machine m
                    WHERE m.from_state = o.state AND m.to_state = n.state)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'illegal task transition % -> % for task %',
      v_bad.from_state, v_bad.to_state, v_bad.task_id
      USING ERRCODE = 'TK100';
  END IF;

  UPDATE tasker.task_transitions t SET most_recent = false
  FROM old_rows o JOIN new_rows n USING (task_id)
  WHERE o.state <> n.state AND t.task_id = n.task_id AND t.most_recent;

  INSERT INTO tasker.task_transitions (task_id, from_state, to_state, actor, reason)
  SELECT n.task_id, o.state, n.state, tasker._actor(), tasker._reason()
  FROM old_rows o JOIN new_rows n USING (task_id)
  WHERE o.state <> n.state;

  FOR v_done IN
    SELECT n.task_id, n.state FROM old_rows o JOIN new_rows n USING (task_id)
    WHERE o.state <> n.state AND n.state IN ('complete', 'error', 'cancelled')
  LOOP
    PERFORM pg_notify('tasker_task_state',
      json_build_object('task_id', v_done.task_id, 'state', v_done.state)::text);
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_log_insert AFTER INSERT ON tasker.tasks
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasker._log_new_tasks();

CREATE TRIGGER tasks_log_update AFTER UPDATE ON tasker.tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasker._log_task_changes();

-- tasker._log_new_steps: every new step starts in an initial state of step_state_machine and
-- gets its first transition row.
CREATE FUNCTION tasker._log_new_steps() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_bad record;
BEGIN
  SELECT n.step_id, n.state INTO v_bad FROM new_rows n
  WHERE NOT EXISTS (SELECT 1 FROM tasker.step_state_machine m
                    WHERE m.from_state IS NULL AND m.to_state = n.state)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'illegal initial step state "%" for step %', v_bad.state, v_bad.step_id
      USING ERRCODE = 'TK100';
  END IF;
  INSERT INTO tasker.step_transitions
    (step_id, task_id, from_state, to_state, attempt, delivery, actor, reason)
  SELECT n.step_id, n.task_id, NULL, n.state, n.attempt, n.deliveries, tasker._actor(), tasker._reason()
  FROM new_rows n;
  RETURN NULL;
END
$$;

-- tasker._log_step_changes: a step's state changes only along step_state_machine, and a change
-- of state or a new delivery (a fresh lease) is appended to step_transitions with most_recent
-- moved to it. Updates that touch neither (results, lease extensions) log nothing.
CREATE FUNCTION tasker._log_step_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_bad record;
BEGIN
  SELECT o.step_id, o.state AS from_state, n.state AS to_state INTO v_bad
  FROM old_rows o JOIN new_rows n USING (step_id)
  WHERE (o.state <> n.state OR o.deliveries <> n.deliveries OR o.attempt <> n.attempt)
    AND NOT EXISTS (SELECT 1 FROM tasker.step_state_machine m
                    WHERE m.from_state = o.state AND m.to_state = n.state)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'illegal step transition % -> % for step %',
      v_bad.from_state, v_bad.to_state, v_bad.step_id
      USING ERRCODE = 'TK100';
  END IF;

  UPDATE tasker.step_transitions t SET most_recent = false
  FROM old_rows o JOIN new_rows n USING (step_id)
  WHERE (o.state <> n.state OR o.deliveries <> n.deliveries OR o.attempt <> n.attempt)
    AND t.step_id = n.step_id AND t.most_recent;

  INSERT INTO tasker.step_transitions
    (step_id, task_id, from_state, to_state, attempt, delivery, actor, reason)
  SELECT n.step_id, n.task_id, o.state, n.state, n.attempt, n.deliveries, tasker._actor(), tasker._reason()
  FROM old_rows o JOIN new_rows n USING (step_id)
  WHERE o.state <> n.state OR o.deliveries <> n.deliveries OR o.attempt <> n.attempt;
  RETURN NULL;
END
$$;

CREATE TRIGGER workflow_steps_log_insert AFTER INSERT ON tasker.workflow_steps
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasker._log_new_steps();

CREATE TRIGGER workflow_steps_log_update AFTER UPDATE ON tasker.workflow_steps
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasker._log_step_changes();

-- tasker._refuse_transition_rewrite: transition rows are history. The triggers below call it
-- only when an UPDATE names a column other than most_recent or sets most_recent back to true,
-- so the hot path (clearing most_recent) pays no function call. Rows still leave with their task.
CREATE FUNCTION tasker._refuse_transition_rewrite() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: only most_recent may be cleared', TG_TABLE_NAME
    USING ERRCODE = 'TK100';
END
$$;

CREATE TRIGGER task_transitions_append_only
  BEFORE UPDATE OF transition_id, task_id, from_state, to_state, actor, reason, created_at
  ON tasker.task_transitions
  FOR EACH ROW EXECUTE FUNCTION tasker._refuse_transition_rewrite();
CREATE TRIGGER task_transitions_current_is_last
  BEFORE UPDATE ON tasker.task_transitions
  FOR EACH ROW WHEN (NEW.most_recent AND NOT OLD.most_recent)
  EXECUTE FUNCTION tasker._refuse_transition_rewrite();

CREATE TRIGGER step_transitions_append_only
  BEFORE UPDATE OF transition_id, step_id, task_id, from_state, to_state, attempt, delivery,
                   actor, reason, created_at
  ON tasker.step_transitions
  FOR EACH ROW EXECUTE FUNCTION tasker._refuse_transition_rewrite();
CREATE TRIGGER step_transitions_current_is_last
  BEFORE UPDATE ON tasker.step_transitions
  FOR EACH ROW WHEN (NEW.most_recent AND NOT OLD.most_recent)
  EXECUTE FUNCTION tasker._refuse_transition_rewrite();
