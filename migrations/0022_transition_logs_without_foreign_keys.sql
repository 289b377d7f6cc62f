-- The transition logs drop their foreign keys; the rows still leave with their task or step.
--
-- step_transitions.step_id and task_transitions.task_id referenced their step and task. A
-- foreign key costs a lookup of the referenced row through SPI for every log row, and every state
-- change writes one: three per step and two per task in a plain run. The key guarded nothing the
-- schema does not already guarantee: since 0017 rows reach the logs only from the state triggers
-- of tasks and workflow_steps, which copy the key from the row they just inserted or updated, so a
-- log row always names a row that exists. What the keys also did, deleting the log rows with
-- their task or step (ON DELETE CASCADE), the triggers below do: a statement-level trigger
-- deletes the log rows of the deleted rows, by key through the history indexes, and TRUNCATE of
-- tasks or workflow_steps truncates the matching log (a TRUNCATE ... CASCADE of tasks no longer
-- reaches the logs through the keys).
--
-- Measured with `node bench/dist/migration-ab.js --without 0022 --batch 50 --tasks 5000`
-- (single-step tasks claimed and reported 50 at a time, rounds alternating between a database
-- without the keys and one with them): 553 vs 611 µs per step; the 4-step workflow's SQL p50
-- 34.4 vs 35.8 ms.

ALTER TABLE tasker.step_transitions DROP CONSTRAINT step_transitions_step_id_fkey;
ALTER TABLE tasker.task_transitions DROP CONSTRAINT task_transitions_task_id_fkey;

-- tasker._forget_transitions: deletes the log rows of the rows a DELETE removed from tasks
-- (task_transitions) or workflow_steps (step_transitions, whether deleted directly or through the
-- cascade from their task), as ON DELETE CASCADE did. The keys are an array probed through the
-- log's history index, so the cost follows the deleted rows whatever plan is cached.
CREATE FUNCTION tasker._forget_transitions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'tasks' THEN
    DELETE FROM tasker.task_transitions l
    WHERE l.task_id = ANY (ARRAY(SELECT o.task_id FROM old_rows o));
  ELSE
    DELETE FROM tasker.step_transitions l
    WHERE l.step_id = ANY (ARRAY(SELECT o.step_id FROM old_rows o));
  END IF;
  RETURN NULL;
END
$$;

-- tasker._truncate_transition_log: TRUNCATE of tasks or workflow_steps empties its log, as
-- TRUNCATE ... CASCADE did through the keys.
CREATE FUNCTION tasker._truncate_transition_log() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'tasks' THEN
    TRUNCATE tasker.task_transitions;
  ELSE
    TRUNCATE tasker.step_transitions;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_forget_transitions
  AFTER DELETE ON tasker.tasks
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasker._forget_transitions();
CREATE TRIGGER workflow_steps_forget_transitions
  AFTER DELETE ON tasker.workflow_steps
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasker._forget_transitions();

CREATE TRIGGER tasks_truncate_transitions
  AFTER TRUNCATE ON tasker.tasks
  FOR EACH STATEMENT EXECUTE FUNCTION tasker._truncate_transition_log();
CREATE TRIGGER workflow_steps_truncate_transitions
  AFTER TRUNCATE ON tasker.workflow_steps
  FOR EACH STATEMENT EXECUTE FUNCTION tasker._truncate_transition_log();
