/**
 * Which runtime and SDK version a service runs, for /health/detailed and the tasker_info metric.
 */
import { readFileSync } from 'node:fs';
import { detectRuntime, type JsRuntime } from '../runtime.ts';

export interface RuntimeInfo {
  runtime: JsRuntime;
  runtimeVersion: string;
  /** The @tasker/sdk version. */
  version: string;
}

let cached: RuntimeInfo | undefined;

export function runtimeInfo(): RuntimeInfo {
  cached ??= { runtime: detectRuntime(), runtimeVersion: runtimeVersion(), version: sdkVersion() };
  return cached;
}

function runtimeVersion(): string {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  if (deno?.version?.deno !== undefined) return deno.version.deno;
  const versions = typeof process === 'undefined' ? undefined : (process.versions as Record<string, string | undefined>);
  return versions?.['bun'] ?? versions?.['node'] ?? 'unknown';
}

/**
 * Read from sdk/package.json, two levels up from both src/server/ and dist/server/, so the version
 * is stated once. A missing or unreadable file (a bundled copy) reports "unknown" rather than fail.
 */
function sdkVersion(): string {
  try {
    const parsed: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const version = typeof parsed === 'object' && parsed !== null ? (parsed as { version?: unknown }).version : undefined;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}
