/**
 * Typed errors of the Tasker SDK. Each class names one kind of failure and carries a
 * stable `code`, so callers (and the CLI's exit codes) can branch without parsing
 * messages. Messages never contain passwords: database URLs are redacted before they
 * get here.
 */

/** Base class of every error the SDK throws on purpose. */
export class TaskerError extends Error {
  /** Stable machine-readable identifier of the failure kind. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration value (usually an environment variable) is not one we accept. */
export class InvalidConfigError extends TaskerError {
  constructor(
    readonly variable: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super('CONFIG_INVALID', `${variable}=${JSON.stringify(value)} is invalid: expected ${expected}`);
  }
}

/** A database URL could not be parsed. The URL itself is not repeated, it may hold a password. */
export class InvalidDatabaseUrlError extends TaskerError {
  constructor(reason: string) {
    super('DATABASE_URL_INVALID', `Invalid database URL: ${reason}`);
  }
}

/** A name meant for a PostgreSQL identifier (database name) is unusable. */
export class InvalidIdentifierError extends TaskerError {
  constructor(identifier: string, reason: string) {
    super('IDENTIFIER_INVALID', `Invalid identifier ${JSON.stringify(identifier)}: ${reason}`);
  }
}

/** Connecting to PostgreSQL failed, after any retries. */
export class DatabaseConnectionError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DB_CONNECTION_FAILED', message, options);
  }
}

/** The PostgreSQL binaries for the embedded server are not installed for this platform. */
export class EmbeddedPostgresBinariesMissingError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EMBEDDED_PG_BINARIES_MISSING', message, options);
  }
}

/** initdb or pg_ctl start failed, or the started server did not accept connections. */
export class EmbeddedPostgresStartError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EMBEDDED_PG_START_FAILED', message, options);
  }
}

/** pg_ctl stop failed. */
export class EmbeddedPostgresStopError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EMBEDDED_PG_STOP_FAILED', message, options);
  }
}

/** A server runs on our data directory but cannot be used with the stored credentials. */
export class EmbeddedPostgresUnusableError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EMBEDDED_PG_UNUSABLE', message, options);
  }
}

/** The embedded server's state directory is inconsistent (e.g. data without credentials). */
export class EmbeddedPostgresStateError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EMBEDDED_PG_STATE_INVALID', message, options);
  }
}

/** An operation needs the embedded server running and it is not. */
export class EmbeddedPostgresNotRunningError extends TaskerError {
  constructor(message: string) {
    super('EMBEDDED_PG_NOT_RUNNING', message);
  }
}

/** The OS account that must own the PostgreSQL processes is missing and cannot be created. */
export class OsUserError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OS_USER_UNAVAILABLE', message, options);
  }
}

/** Another process held a lock file for longer than we were willing to wait. */
export class LockTimeoutError extends TaskerError {
  constructor(message: string) {
    super('LOCK_TIMEOUT', message);
  }
}

/** PGMQ is not installed in the database and was not (allowed to be) installed. */
export class PgmqNotInstalledError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PGMQ_NOT_INSTALLED', message, options);
  }
}

/** Installing PGMQ was attempted and failed. */
export class PgmqInstallError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PGMQ_INSTALL_FAILED', message, options);
  }
}

/** The pinned PGMQ install script is absent or differs from its pinned checksum. */
export class PgmqScriptError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PGMQ_SCRIPT_INVALID', message, options);
  }
}

/** The migrations directory does not exist or cannot be read. */
export class MigrationsDirError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MIGRATIONS_DIR_INVALID', message, options);
  }
}

/** A `.sql` file in the migrations directory is not named `NNNN_name.sql`. */
export class MigrationFileNameError extends TaskerError {
  constructor(readonly fileName: string) {
    super(
      'MIGRATION_FILE_NAME_INVALID',
      `Migration file ${fileName} is not named NNNN_name.sql (four digits, underscore, name)`,
    );
  }
}

/** Two migration files share a version number. */
export class DuplicateMigrationVersionError extends TaskerError {
  constructor(
    readonly version: number,
    readonly fileNames: readonly [string, string],
  ) {
    super(
      'MIGRATION_VERSION_DUPLICATE',
      `Migration files ${fileNames[0]} and ${fileNames[1]} share version ${String(version).padStart(4, '0')}`,
    );
  }
}

/** An applied migration's file changed after it was applied. */
export class MigrationChecksumMismatchError extends TaskerError {
  constructor(
    readonly fileName: string,
    readonly appliedChecksum: string,
    readonly fileChecksum: string,
  ) {
    super(
      'MIGRATION_CHECKSUM_MISMATCH',
      `Migration ${fileName} was changed after it was applied: applied checksum ${appliedChecksum}, ` +
        `file checksum ${fileChecksum}. Restore the applied file and put the change in a new migration.`,
    );
  }
}

/** A migration recorded as applied has no file any more. */
export class MigrationFileMissingError extends TaskerError {
  constructor(
    readonly fileName: string,
    readonly migrationsDir: string,
  ) {
    super(
      'MIGRATION_FILE_MISSING',
      `Migration ${fileName} was applied to the database but its file is missing from ${migrationsDir}`,
    );
  }
}

/** A migration's SQL failed; its transaction was rolled back. */
export class MigrationApplyError extends TaskerError {
  constructor(
    readonly fileName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('MIGRATION_FAILED', message, options);
  }
}

/** The server is older than the oldest PostgreSQL the migrations support. */
export class UnsupportedServerVersionError extends TaskerError {
  constructor(
    readonly serverVersion: string,
    readonly minimumVersion: string,
  ) {
    super(
      'UNSUPPORTED_SERVER_VERSION',
      `PostgreSQL ${minimumVersion} or later is required; this server is PostgreSQL ${serverVersion}. ` +
        'Upgrade it, or unset DATABASE_URL to use the embedded server.',
    );
  }
}

/** A migration run failed for a reason no more specific class describes (e.g. a dropped connection). */
export class MigrationRunError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MIGRATION_RUN_FAILED', message, options);
  }
}

/** The migration run did not finish within its time budget. */
export class MigrationTimeoutError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MIGRATION_TIMEOUT', message, options);
  }
}

/** The command line was not understood; the CLI exits with status 2. */
export class UsageError extends TaskerError {
  constructor(message: string) {
    super('USAGE', message);
  }
}
