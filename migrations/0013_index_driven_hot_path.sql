-- Index-driven plans on the hot path, whatever the statistics say.
--
-- Every query of the claim, report and task-creation functions reaches its rows by key: a step
-- by its id, a task by its id, edges by their endpoints, messages by their ids. The planner only
-- picks a sequential scan for them when the statistics say a table is tiny, and on a database
-- whose tables grow faster than autovacuum analyzes them (any fresh deployment taking its first
-- burst of work, every benchmark) that is exactly when the table is no longer tiny: the
-- dependency-results subquery of claim_steps, planned with "one complete step in the table",
-- scanned every step of the database once per claimed step. The cost then grows with the
-- table, not with the work.
--
-- Measured with `node bench/dist/sql-profile.js` (bench/results/latency.md), without and then
-- with this migration, back to back on fresh databases: the SQL of a 4-step workflow 52.5 ->
-- 39.3 ms; a claim of 10 steps 7.5 -> 6.0 ms; a report of 10 steps 14.0 -> 9.4 ms. The gap
-- widens as the tables grow.
--
-- enable_seqscan = off does not forbid a sequential scan; it makes the planner take one only
-- when no index can serve the query. The setting applies while each function runs (and to what
-- it calls, including the transition-log triggers), nowhere else.
ALTER FUNCTION tasker.claim_steps(text, int, int, text) SET enable_seqscan = off;
ALTER FUNCTION tasker.report_steps(jsonb, text) SET enable_seqscan = off;
ALTER FUNCTION tasker.report_step(uuid, int, int, text, jsonb, jsonb, int, text[], text, jsonb)
  SET enable_seqscan = off;
ALTER FUNCTION tasker.report_and_claim(jsonb, text, int, int) SET enable_seqscan = off;
ALTER FUNCTION tasker.create_task(text, text, text, jsonb, text, text, int, text[], text, bigint)
  SET enable_seqscan = off;
ALTER FUNCTION tasker.extend_leases(uuid[], int[], int[], int) SET enable_seqscan = off;
ALTER FUNCTION tasker.release_leases(uuid[], int[], int[], text) SET enable_seqscan = off;
