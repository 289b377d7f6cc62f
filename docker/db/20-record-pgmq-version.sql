-- Records the SQL-only PGMQ install the way the pgmq crate does (pgmq.__pgmq_migrations), so the
-- migration runner and tasker.pgmq_version() report the version.
CREATE TABLE IF NOT EXISTS pgmq.__pgmq_migrations (
  name TEXT PRIMARY KEY NOT NULL,
  version TEXT NOT NULL,
  run_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO pgmq.__pgmq_migrations (name, version) VALUES ('pgmq.sql', '1.11.1')
ON CONFLICT (name) DO NOTHING;
