#!/usr/bin/env node
// `npm run proto:check`: lints proto/ with buf, generates TypeScript from it into a scratch
// directory with the same template as `npm run proto:generate`, and fails when the result differs
// from the committed sdk/src/gen in any way (a file changed, missing or left over). So a .proto
// edited without regenerating, or generated code edited by hand, cannot pass `npm test`.
// Plain Node ESM, no dependencies beyond buf and protoc-gen-es from node_modules.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buf = join(root, 'node_modules', '.bin', 'buf');
const template = join('proto', 'buf.gen.yaml');
// TASKER_PROTO_GEN_DIR: compare another copy instead (test/health/proto-check.test.ts uses it).
const committed = process.env.TASKER_PROTO_GEN_DIR ?? join(root, 'sdk', 'src', 'gen');

function run(args) {
  const result = spawnSync(buf, args, { cwd: root, encoding: 'utf8' });
  if (result.error !== undefined) {
    console.error(`[ERROR] proto:check: cannot run buf (${result.error.message}); run \`npm install\` first`);
    process.exit(1);
  }
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    console.error(`[ERROR] proto:check: \`buf ${args.join(' ')}\` failed (exit ${result.status})`);
    process.exit(1);
  }
}

/** Every file under `dir`, as paths relative to it, sorted. */
function files(dir) {
  if (!existsSync(dir)) return [];
  const found = [];
  const walk = (at) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else found.push(relative(dir, path));
    }
  };
  walk(dir);
  return found.sort();
}

run(['lint', 'proto']);
const scratch = mkdtempSync(join(tmpdir(), 'tasker-proto-check-'));
try {
  // -o prefixes the template's `out` (sdk/src/gen), so the fresh code lands in scratch/sdk/src/gen.
  run(['generate', '--template', template, '-o', scratch]);
  const fresh = join(scratch, 'sdk', 'src', 'gen');
  const want = files(fresh);
  const have = files(committed);
  const problems = [];
  for (const file of want) {
    if (!have.includes(file)) problems.push(`missing: sdk/src/gen/${file}`);
    else if (readFileSync(join(fresh, file), 'utf8') !== readFileSync(join(committed, file), 'utf8')) {
      problems.push(`differs: sdk/src/gen/${file}`);
    }
  }
  for (const file of have) if (!want.includes(file)) problems.push(`not generated from proto/: sdk/src/gen/${file}`);
  if (problems.length > 0) {
    for (const problem of problems) console.error(`[ERROR] proto:check: ${problem}`);
    console.error('[ERROR] proto:check: the generated code is out of date: run `npm run proto:generate` and commit sdk/src/gen');
    process.exit(1);
  }
  console.log(`[SUCCESS] proto:check: proto/ lints clean and sdk/src/gen matches it (${want.length} files)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
