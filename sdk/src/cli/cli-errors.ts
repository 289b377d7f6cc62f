/** Errors only tasker-ctl raises. Each names the file, directory or database it is about. */
import { TaskerError } from '../errors.ts';

/** A handler module could not be imported (syntax error, missing import, throwing top level). */
export class HandlerModuleError extends TaskerError {
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super('HANDLER_MODULE_INVALID', `cannot import handler module ${file}: ${problem}`, options);
  }
}

/** A --handlers directory is missing, unreadable, or exports no handler. */
export class HandlerDirError extends TaskerError {
  constructor(
    readonly dir: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super('HANDLER_DIR_INVALID', `handler directory ${dir}: ${problem}`, options);
  }
}

/** Two handler modules export different handlers under one name. */
export class DuplicateHandlerExportError extends TaskerError {
  constructor(
    readonly handlerName: string,
    readonly files: readonly [string, string],
  ) {
    super('HANDLER_DUPLICATE', `handler "${handlerName}" is exported by both ${files[0]} and ${files[1]}`);
  }
}

/** The database answers but has no tasker schema (or an older one): migrations are missing. */
export class DatabaseNotMigratedError extends TaskerError {
  constructor(redactedUrl: string, problem: string, options?: { cause?: unknown }) {
    super('DB_NOT_MIGRATED', `${redactedUrl} lacks the tasker schema (${problem}); run \`tasker-ctl migrate\` first`, options);
  }
}

/** `config generate --output` could not write its file (a directory, no permission, no space). */
export class ConfigOutputError extends TaskerError {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const code = (cause as { code?: unknown }).code;
    const reason =
      code === 'EISDIR'
        ? 'it is a directory'
        : code === 'ENOTDIR'
          ? 'a parent of it is a file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : cause instanceof Error
              ? cause.message
              : String(cause);
    super('CONFIG_OUTPUT_FAILED', `cannot write ${file}: ${reason}; choose another --output`, { cause });
  }
}

/** A --context-file could not be read. */
export class ContextFileError extends TaskerError {
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super('CONTEXT_FILE_INVALID', `context file ${file}: ${problem}`, options);
  }
}

/** Templates of the namespaces a worker serves name handlers that no handler module exports. */
export class MissingHandlersError extends TaskerError {
  constructor(readonly missing: ReadonlyArray<{ template: string; file: string; handlers: readonly string[] }>) {
    super(
      'HANDLERS_MISSING',
      `no handler module exports the handlers these templates need: ${missing
        .map((m) => `${m.template} (${m.file}) needs ${m.handlers.map((h) => `"${h}"`).join(', ')}`)
        .join('; ')}`,
    );
  }
}
