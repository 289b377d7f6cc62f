-- Indexes that no query reads are dropped: every task and every logged state change paid for them.
--
-- tasks_by_tags (GIN), tasks_by_correlation and tasks_unfinished came with the first schema for
-- lookups that were never built: no function, SDK query, API or tool finds tasks by tag, by
-- correlation id or by "unfinished since" (task lists go by task_id, deadlines by
-- tasks_deadlines). A task's state is in partial-index predicates, so none of its updates is HOT:
-- each one (task started, task finished) wrote an entry into all three, the GIN one through its
-- pending list, as did each create_task.
--
-- step_transitions_by_task let a task's step history be read by task_id. Only the conformance
-- runner read it that way; it now reaches the log through the task's steps (workflow_steps by
-- task_id, then step_transitions_history by step_id). Each logged step change, two to three per
-- step, wrote an entry into it.
--
-- Measured with `node bench/dist/migration-ab.js --without 0026 --batch 50 --tasks 5000
-- --workflows 200` (rounds alternating between a database with this migration and one without),
-- five runs: claim + report of 50 single-step tasks 2.4 to 6.3% faster in every run (the report
-- 5 to 9%); 2-step chains 4.1%; the 4-step workflow's SQL within the machine's spread (-8% to
-- +4%). Records in bench/results/migration-ab.md.
DROP INDEX tasker.tasks_by_tags;
DROP INDEX tasker.tasks_by_correlation;
DROP INDEX tasker.tasks_unfinished;
DROP INDEX tasker.step_transitions_by_task;
