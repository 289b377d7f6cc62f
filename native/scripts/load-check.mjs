#!/usr/bin/env node
// Loads the napi addon the way sdk/src/binding/napi.ts does (createRequire of the .node) and
// crosses into it; with DATABASE_URL set (a migrated database) also creates and drains a core.
// Runs unchanged on Node, Bun and Deno:
//
//   node native/scripts/load-check.mjs
//   node_modules/.bin/bun native/scripts/load-check.mjs
//   node_modules/.bin/deno run -A native/scripts/load-check.mjs
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import process from 'node:process';

const runtime = typeof globalThis.Deno !== 'undefined' ? 'deno' : typeof globalThis.Bun !== 'undefined' ? 'bun' : 'node';
const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = readdirSync(nativeDir).find((f) => f.startsWith(`tasker-native.${process.platform}-${process.arch}`) && f.endsWith('.node'));
if (file === undefined) throw new Error('no addon in native/: run node native/build.mjs');
const addon = createRequire(import.meta.url)(join(nativeDir, file));
const sync = addon.echoSync('ping');
const async = await addon.echo('pong');
if (sync !== 'ping' || async !== 'pong') throw new Error('echo answered wrongly');
let line = `${runtime}: loaded ${file}; echoSync and echo ok`;
const url = process.env.DATABASE_URL;
if (url) {
  const core = await addon.NativeWorkerCore.create(
    JSON.stringify({ databaseUrl: url, workerId: `load-check-${runtime}`, namespaces: ['load_check'], mode: 'PollingOnly' }),
  );
  const steps = JSON.parse(await core.next(1, 50));
  const stats = JSON.parse(core.stats());
  const drained = JSON.parse(await core.drain(1000));
  line += `; core created, next() → ${steps.length} steps, stats.binding=${stats.binding}, drain → ${JSON.stringify(drained)}`;
}
console.log(line);
