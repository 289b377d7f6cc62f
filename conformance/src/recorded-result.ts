/**
 * How a step result is recorded in a trace: as it is, or — over 4 KiB of canonical JSON — as its
 * size and sha256, so that a 1 MB result neither bloats the report nor hides a changed byte.
 * Scenarios use it to state what they expect a big result to be recorded as.
 */
import type { JsonValue } from '@tasker/sdk';
import { jsonBytes, jsonDigest } from './canonical-json.ts';

/** Results larger than this (canonical JSON bytes) are recorded by size and hash. */
export const LARGE_RESULT_BYTES = 4_096;

export function recordedResult(value: JsonValue): JsonValue {
  if (value === null || jsonBytes(value) <= LARGE_RESULT_BYTES) return value;
  return { $bytes: jsonBytes(value), $sha256: jsonDigest(value) };
}
