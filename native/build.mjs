#!/usr/bin/env node
// Builds the native core in release mode and puts both faces at stable paths:
//
//   native/tasker-native.<platform>-<arch>[-<abi>].node   the napi addon (napi build --platform)
//   native/lib/libtasker_native.{so,dylib} | tasker_native.dll   the same library, for the C ABI
//   native/index.d.ts                                     the addon's types (generated)
//
// One cargo build produces one cdylib that is both faces (see README.md). Cargo makes a rebuild
// with nothing changed take about a second.
//
//   node native/build.mjs            release build
//   node native/build.mjs --debug    debug build (faster to compile, slow to run)
//   node native/build.mjs --check    only check that cargo is available
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = new Set(process.argv.slice(2));
const release = !args.has('--debug');

function fail(message) {
  console.error(`[native] ERROR: ${message}`);
  process.exit(1);
}

function info(message) {
  console.log(`[native] ${message}`);
}

// 1. cargo must be there, or nothing can be built: say so plainly.
const cargo = process.env.CARGO ?? 'cargo';
const probe = spawnSync(cargo, ['--version'], { encoding: 'utf8' });
if (probe.error !== undefined || probe.status !== 0) {
  fail(
    `cargo (the Rust toolchain) was not found${probe.error ? ` (${probe.error.code ?? probe.error.message})` : ''}. ` +
      'The native core (napi and ffi bindings) needs it: install Rust from https://rustup.rs (stable), ' +
      'then run `node native/build.mjs` again. Without it, use the pure-TypeScript binding: TASKER_BINDING=pg.',
  );
}
info(`using ${probe.stdout.trim()}`);
if (args.has('--check')) process.exit(0);

// 2. napi build: cargo build of the cdylib, then the platform-named .node and index.d.ts.
const napiBin = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi');
if (!existsSync(napiBin)) {
  fail(`${relative(root, napiBin)} is missing: run \`npm install\` at the repository root first (it provides @napi-rs/cli)`);
}
const started = Date.now();
const napiArgs = ['build', '--platform', '--no-js', '--dts', 'index.d.ts'];
if (release) napiArgs.push('--release');
const build = spawnSync(napiBin, napiArgs, { cwd: here, stdio: 'inherit', shell: process.platform === 'win32' });
if (build.error !== undefined || build.status !== 0) {
  fail(`\`napi ${napiArgs.join(' ')}\` failed (exit ${build.status ?? build.error?.message}); see the cargo output above`);
}

// 3. The C ABI library: the same cdylib cargo just wrote, copied under its library name.
// napi build passes `--target <host triple>`, so cargo writes to target/<triple>/<profile>.
const profile = release ? 'release' : 'debug';
const libName =
  process.platform === 'win32' ? 'tasker_native.dll' : process.platform === 'darwin' ? 'libtasker_native.dylib' : 'libtasker_native.so';
const rustc = spawnSync(process.env.RUSTC ?? 'rustc', ['-vV'], { encoding: 'utf8' });
const host = /^host: (\S+)$/m.exec(rustc.stdout ?? '')?.[1];
const candidates = [...(host ? [join(here, 'target', host, profile, libName)] : []), join(here, 'target', profile, libName)];
const builtLib = candidates
  .filter((path) => existsSync(path))
  .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
if (builtLib === undefined) fail(`cargo did not produce ${candidates.map((c) => relative(root, c)).join(' or ')}`);
const libDir = join(here, 'lib');
mkdirSync(libDir, { recursive: true });
const libOut = join(libDir, libName);
// Copy then rename, so a process that has the old library loaded keeps a valid mapping.
copyFileSync(builtLib, `${libOut}.tmp`);
renameSync(`${libOut}.tmp`, libOut);

const addons = readdirSync(here).filter((f) => f.startsWith('tasker-native.') && f.endsWith('.node'));
const newest = addons
  .map((f) => ({ f, t: statSync(join(here, f)).mtimeMs }))
  .sort((a, b) => b.t - a.t)[0];
if (newest === undefined) fail('napi build produced no .node file');
info(`built (${release ? 'release' : 'debug'}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
info(`napi addon:   ${relative(root, join(here, newest.f))}`);
info(`C library:    ${relative(root, libOut)}`);
info(`C header:     ${relative(root, join(here, 'include', 'tasker.h'))}`);
info(`addon types:  ${relative(root, join(here, 'index.d.ts'))}`);
