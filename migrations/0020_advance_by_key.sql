-- _advance_many reaches the successors by key, whatever the statistics say about tasks.
--
-- After a report, _advance_many finds the successors of the reported steps that are pending in a
-- running task. It joined edges, steps and tasks; with statistics that said few tasks were
-- running, the generic plan started from the tasks instead: a scan of the whole tasks_pkey,
-- filtered by state, then each task's steps, then the edges back to the reported steps. That is
-- work in proportion to every task in the table, paid by every report that completes a step with
-- successors (found by test/protocol/batch-complexity.test.ts: a report-and-claim of 300 steps
-- visited every running task). 0016's rule applies: the successors are now an array taken from
-- the edges by the reported steps' ids and reached by primary key; the task's state is a subplan
-- per successor (by task_id), and a successor's parents are a subplan per successor (by
-- to_step_id), so no join is left for the planner to turn around.

-- tasker._advance_many: 0016's contract and body; successors, their tasks and their parents are
-- reached by key.
CREATE OR REPLACE FUNCTION tasker._advance_many(p_step_ids uuid[], p_actor text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_frontier uuid[] := p_step_ids;
  v_ready uuid[];
  v_skip uuid[];
  v_enqueued int := 0;
BEGIN
  WHILE v_frontier IS NOT NULL LOOP
    WITH candidates AS (
      SELECT s.step_id
      FROM tasker.workflow_steps s
      WHERE s.step_id = ANY (ARRAY(
              SELECT DISTINCT e.to_step_id FROM tasker.workflow_step_edges e
              WHERE e.from_step_id = ANY (v_frontier)))
        AND s.state IS NOT DISTINCT FROM 'pending'
        AND (SELECT t.state FROM tasker.tasks t WHERE t.task_id = s.task_id) IS NOT DISTINCT FROM 'in_progress'
    ),
    judged AS (
      SELECT c.step_id, j.parents_done, j.any_complete
      FROM candidates c
      CROSS JOIN LATERAL (
        SELECT bool_and(p.state IN ('complete', 'skipped')) AS parents_done,
               bool_or(p.state = 'complete') AS any_complete
        FROM tasker.workflow_step_edges e
        JOIN tasker.workflow_steps p ON p.step_id = e.from_step_id
        WHERE e.to_step_id = c.step_id
      ) j
    )
    SELECT array_agg(j.step_id) FILTER (WHERE j.parents_done AND j.any_complete),
           array_agg(j.step_id) FILTER (WHERE j.parents_done AND NOT j.any_complete)
    INTO v_ready, v_skip
    FROM judged j;

    IF v_ready IS NOT NULL THEN
      PERFORM tasker._set_actor(p_actor, 'dependencies complete');
      v_enqueued := v_enqueued + tasker._enqueue_steps_many(v_ready);
    END IF;
    IF v_skip IS NOT NULL THEN
      PERFORM tasker._set_actor(p_actor, 'every dependency was skipped');
      UPDATE tasker.workflow_steps s
      SET state = 'skipped', finished_at = clock_timestamp(), updated_at = now()
      WHERE s.step_id = ANY (v_skip);
    END IF;
    v_frontier := v_skip;
  END LOOP;
  RETURN v_enqueued;
END
$$;
