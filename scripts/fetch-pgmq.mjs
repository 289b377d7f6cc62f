#!/usr/bin/env node
// Obtains PGMQ's SQL-only install script from the `pgmq` crate on the Rust package
// registry, which embeds upstream PGMQ's install script. Every input and output is
// pinned by sha256 in migrations/pgmq/source.json, so what lands on disk is exactly
// what was reviewed. Runs from `postinstall`: plain Node ESM, no dependencies.
//
// Order of sources: an existing verified output file (nothing to do), the file named by
// TASKER_PGMQ_CRATE, cargo's download cache. When the cache lacks the crate, cargo itself
// fetches it (`cargo info crate@version` downloads that one crate into the cache), so the
// registry is reached through its ordinary client and its configuration (mirrors, proxies).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const pgmqDir = join(repoRoot, 'migrations', 'pgmq');
const sourceFile = join(pgmqDir, 'source.json');
const CARGO_TIMEOUT_MS = 180_000;

class FetchPgmqError extends Error {
  name = 'FetchPgmqError';
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readSource() {
  let parsed;
  try {
    parsed = JSON.parse(await readFile(sourceFile, 'utf8'));
  } catch (error) {
    throw new FetchPgmqError(`cannot read ${sourceFile}: ${error.message}`);
  }
  for (const key of ['crate', 'crate_version', 'crate_sha256', 'pgmq_version', 'path_in_crate', 'sql_sha256']) {
    if (typeof parsed[key] !== 'string' || parsed[key] === '') {
      throw new FetchPgmqError(`${sourceFile} lacks the string field "${key}"`);
    }
  }
  return parsed;
}

/** Finds crate files in cargo's download cache (one directory per registry index). */
function cargoCacheCandidates(crateFileName) {
  const cargoHome = process.env.CARGO_HOME || join(homedir(), '.cargo');
  const cacheRoot = join(cargoHome, 'registry', 'cache');
  if (!existsSync(cacheRoot)) return [];
  return readdirSync(cacheRoot)
    .map((index) => join(cacheRoot, index, crateFileName))
    .filter((path) => existsSync(path));
}

/** Asks cargo to put the crate in its download cache; returns cargo's error output on failure. */
function cargoDownload(crate, version) {
  const result = spawnSync('cargo', ['info', `${crate}@${version}`], { encoding: 'utf8', timeout: CARGO_TIMEOUT_MS });
  if (result.error) {
    throw new FetchPgmqError(
      `cannot run cargo to download crate ${crate} ${version} (${result.error.code ?? result.error.message}); ` +
        'install Rust (rustup) or set TASKER_PGMQ_CRATE to a downloaded .crate file',
    );
  }
  if (result.status !== 0) {
    throw new FetchPgmqError(`cargo info ${crate}@${version} failed: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

function describe(error) {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.code ?? error.cause.message})` : '';
  return `${error.message}${cause}`;
}

function parseOctal(field, what) {
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]*$/.test(text)) throw new FetchPgmqError(`corrupt tar header: ${what} is "${text}"`);
  return text === '' ? 0 : parseInt(text, 8);
}

function cString(field) {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

/** Reads the `path=` record of a pax extended header, the only pax record we need. */
function paxPath(data) {
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = parseInt(data.subarray(offset, space).toString('latin1'), 10);
    if (!Number.isFinite(length) || length <= 0) break;
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    if (record.startsWith('path=')) return record.slice('path='.length);
    offset += length;
  }
  return undefined;
}

/** Returns the contents of one regular file in a tar archive (ustar, GNU and pax names). */
function extractFromTar(tar, wantedPath) {
  let offset = 0;
  let longName;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const size = parseOctal(header.subarray(124, 136), 'entry size');
    const type = String.fromCharCode(header[156] || 0x30);
    const dataStart = offset + 512;
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / 512) * 512;

    if (type === 'L') {
      longName = cString(data);
      continue;
    }
    if (type === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (type === 'g') continue;

    let name = cString(header.subarray(0, 100));
    if (header.subarray(257, 262).toString('latin1') === 'ustar') {
      const prefix = cString(header.subarray(345, 500));
      if (prefix) name = `${prefix}/${name}`;
    }
    if (longName !== undefined) name = longName;
    longName = undefined;

    if (name === wantedPath && (type === '0' || type === '\0')) {
      if (data.length !== size) throw new FetchPgmqError(`tar archive is truncated inside ${wantedPath}`);
      return Buffer.from(data);
    }
  }
  throw new FetchPgmqError(`${wantedPath} is not in the crate archive`);
}

async function readVerified(path, source) {
  const bytes = await readFile(path).catch((error) => {
    throw new FetchPgmqError(`cannot read ${path}: ${error.message}`);
  });
  const actual = sha256(bytes);
  if (actual === source.crate_sha256) return bytes;
  console.log(`[INFO] Ignoring ${path}: sha256 ${actual} is not the pinned ${source.crate_sha256}`);
  return undefined;
}

async function obtainCrate(source) {
  const crateFileName = `${source.crate}-${source.crate_version}.crate`;
  const local = [process.env.TASKER_PGMQ_CRATE, ...cargoCacheCandidates(crateFileName)].filter(Boolean);
  for (const path of local) {
    const bytes = await readVerified(path, source);
    if (bytes) {
      console.log(`[INFO] Using ${path}`);
      return bytes;
    }
  }
  console.log(`[INFO] Downloading crate ${source.crate} ${source.crate_version} with cargo`);
  cargoDownload(source.crate, source.crate_version);
  for (const path of cargoCacheCandidates(crateFileName)) {
    const bytes = await readVerified(path, source);
    if (bytes) {
      console.log(`[INFO] Using ${path}`);
      return bytes;
    }
  }
  throw new FetchPgmqError(
    `cargo reported success but no ${crateFileName} with sha256 ${source.crate_sha256} is in its cache ` +
      '(is CARGO_HOME set differently for cargo and for this script?)',
  );
}

async function main() {
  const source = await readSource();
  const target = join(pgmqDir, `pgmq-${source.pgmq_version}.sql`);

  if (existsSync(target)) {
    const actual = sha256(await readFile(target));
    if (actual === source.sql_sha256) {
      console.log(`[INFO] PGMQ ${source.pgmq_version} install script already present: ${target}`);
      return;
    }
    console.log(`[INFO] ${target} has sha256 ${actual}, not the pinned ${source.sql_sha256}; fetching it again`);
  }

  const crate = await obtainCrate(source);
  let tar;
  try {
    tar = gunzipSync(crate);
  } catch (error) {
    throw new FetchPgmqError(`crate ${source.crate} ${source.crate_version} is not valid gzip: ${error.message}`);
  }
  const sql = extractFromTar(tar, source.path_in_crate);
  const actual = sha256(sql);
  if (actual !== source.sql_sha256) {
    throw new FetchPgmqError(
      `checksum mismatch for ${source.path_in_crate}: got sha256 ${actual}, expected ${source.sql_sha256} (pinned in ${sourceFile})`,
    );
  }

  await mkdir(pgmqDir, { recursive: true });
  // Write then rename so a reader never sees a half-written script.
  const partial = `${target}.${process.pid}.partial`;
  await writeFile(partial, sql);
  await rename(partial, target);
  console.log(`[SUCCESS] Wrote PGMQ ${source.pgmq_version} install script (crate ${source.crate} ${source.crate_version}) to ${target}`);
}

main().catch((error) => {
  console.error(`[ERROR] fetch-pgmq: ${describe(error)}`);
  console.error('[ERROR] PGMQ install script not available; fix the cause above and run `npm run pgmq:fetch`.');
  process.exitCode = 1;
});
