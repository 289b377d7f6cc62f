#!/usr/bin/env node
// Crossing cost of the napi addon: echoSync (synchronous) and echo (a Promise resolved from the
// core's runtime), with a 64-byte and a 4 KiB payload. Runs on Node, Bun and Deno:
//   node native/scripts/crossing.mjs | bun native/scripts/crossing.mjs | deno run -A native/scripts/crossing.mjs
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import process from 'node:process';

const runtime = typeof globalThis.Deno !== 'undefined' ? 'deno' : typeof globalThis.Bun !== 'undefined' ? 'bun' : 'node';
const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = readdirSync(nativeDir).find((f) => f.startsWith(`tasker-native.${process.platform}-${process.arch}`) && f.endsWith('.node'));
const addon = createRequire(import.meta.url)(join(nativeDir, file));
const jsEcho = (s) => s;

for (const size of [64, 4096]) {
  const payload = 'x'.repeat(size);
  const row = [];
  for (const [name, fn, n] of [
    ['js function', jsEcho, 1_000_000],
    ['echoSync', (p) => addon.echoSync(p), 200_000],
  ]) {
    for (let i = 0; i < n / 10; i += 1) fn(payload);
    const t = performance.now();
    for (let i = 0; i < n; i += 1) fn(payload);
    row.push(`${name} ${(((performance.now() - t) * 1e6) / n).toFixed(0)} ns`);
  }
  const n = 20_000;
  for (let i = 0; i < 1000; i += 1) await addon.echo(payload);
  let t = performance.now();
  for (let i = 0; i < n; i += 1) await addon.echo(payload);
  row.push(`echo (await each) ${(((performance.now() - t) * 1000) / n).toFixed(1)} µs`);
  t = performance.now();
  await Promise.all(Array.from({ length: n }, () => addon.echo(payload)));
  row.push(`echo (${n} concurrent) ${(((performance.now() - t) * 1000) / n).toFixed(1)} µs each`);
  console.log(`${runtime}, ${size} B: ${row.join('; ')}`);
}
