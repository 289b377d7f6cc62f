/**
 * Database tooling: the embedded PostgreSQL server, connection helpers, PGMQ installation
 * and the migration runner.
 */
export { createDatabase, dropDatabase, resolveDatabase, withClient } from './connect.ts';
export type { ResolveDatabaseOptions, ResolvedDatabase } from './connect.ts';
export { isTransientConnectionError } from './connect-with-retry.ts';
export { buildDatabaseUrl, parseDatabaseUrl, redactDatabaseUrl, redactPasswordIn, withDatabaseName } from './database-url.ts';
export type { DatabaseUrlParts } from './database-url.ts';
export { findProjectRoot, resolveEmbeddedStateDir } from './embedded-paths.ts';
export type { EmbeddedLocationOptions } from './embedded-paths.ts';
export { embeddedPostgresStatus, isEmbeddedPostgresPinned, pinEmbeddedPostgres, startEmbeddedPostgres, stopEmbeddedPostgres } from './embedded-postgres.ts';
export type {
  EmbeddedPostgresHandle,
  EmbeddedPostgresOptions,
  EmbeddedPostgresStatus,
  StopResult,
} from './embedded-postgres.ts';
export { consoleLogSink, logLine, silentLogSink } from './log.ts';
export type { LogLevel, LogSink } from './log.ts';
export { listMigrationFiles } from './migration-files.ts';
export type { MigrationFile } from './migration-files.ts';
export { runMigrations } from './migration-runner.ts';
export type { MigrationRunResult, RunMigrationsOptions } from './migration-runner.ts';
export { DEPLOYMENT_MODES, parseDeploymentMode, resolveMigrationSettings } from './migration-settings.ts';
export type { DeploymentMode, MigrationSettings, MigrationSettingsInput } from './migration-settings.ts';
export { detectPgmq, ensurePgmq, pgmqVersion } from './pgmq-install.ts';
export type { EnsurePgmqOptions, PgClient, PgmqStatus } from './pgmq-install.ts';
export { loadPgmqInstallScript, readPgmqSource } from './pgmq-source.ts';
export type { PgmqInstallScript, PgmqSource } from './pgmq-source.ts';
export { defaultMigrationsDir, defaultPgmqDir } from './repo-paths.ts';
export { quoteIdentifier } from './sql-identifier.ts';
