import type { EmbeddedPostgresOptions } from '../../db/embedded-postgres.ts';

/** The `--dir` option every `db` subcommand accepts. */
export const DIR_OPTION = { dir: { type: 'string' } } as const;

/** Help text line for {@link DIR_OPTION}. */
export const DIR_HELP =
  '  --dir DIR   state directory of the embedded server (default: $TASKER_EMBEDDED_PG_DIR,\n' +
  '              else a per-project directory; see `tasker-ctl db status`)';

/** Turns `--dir` into embedded-server options. */
export function locationFrom(dir: string | undefined): EmbeddedPostgresOptions {
  return dir === undefined ? {} : { stateDir: dir };
}
