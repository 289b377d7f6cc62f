/**
 * Canonical JSON: object keys sorted, no whitespace. Two JSON values are equal exactly when their
 * canonical texts are, whatever order their keys came back in (jsonb reorders them), so it is
 * what handlers hash and what the runner compares and groups traces by.
 */
import { createHash } from 'node:crypto';

/** The canonical text of a JSON value (`undefined` in objects is left out, as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

const UTF8 = new TextEncoder();

/** sha256 of a value's canonical JSON, hex. */
export function jsonDigest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** Size of a value's canonical JSON in UTF-8 bytes. */
export function jsonBytes(value: unknown): number {
  return UTF8.encode(canonicalJson(value)).length;
}
