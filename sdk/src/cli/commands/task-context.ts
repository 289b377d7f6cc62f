import { readFile } from 'node:fs/promises';
import { UsageError } from '../../errors.ts';
import { NotJsonError, toJsonValue } from '../../json/to-json-value.ts';
import type { JsonObject } from '../../protocol/types.ts';
import { ContextFileError } from '../cli-errors.ts';

/**
 * The task context from `--context JSON` or `--context-file PATH` (`-` reads stdin); `{}` when
 * neither is given. The context must be a JSON object, as the template's input schema expects.
 */
export async function readContext(inline: string | undefined, file: string | undefined): Promise<JsonObject> {
  if (inline !== undefined && file !== undefined) throw new UsageError('give --context or --context-file, not both');
  if (inline !== undefined) {
    const parsed = parseJson(inline, (problem) => new UsageError(`--context is not valid JSON: ${problem}`));
    if (!isJsonObject(parsed)) throw new UsageError(`--context must be a JSON object, got ${describe(parsed)}`);
    return storable(parsed, (problem) => new UsageError(`--context cannot be stored: ${problem}`));
  }
  if (file === undefined) return {};
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    throw new ContextFileError(file, `cannot read it: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const parsed = parseJson(text, (problem) => new ContextFileError(file, `not valid JSON: ${problem}`));
  if (!isJsonObject(parsed)) throw new ContextFileError(file, `must hold a JSON object, got ${describe(parsed)}`);
  return storable(parsed, (problem) => new ContextFileError(file, `cannot be stored: ${problem}`));
}

/** `context` if PostgreSQL can store it (no NUL, no lone surrogate), else `fail` naming where. */
function storable(context: JsonObject, fail: (problem: string) => Error): JsonObject {
  try {
    toJsonValue(context, 'context');
  } catch (error) {
    if (error instanceof NotJsonError) throw fail(error.message);
    throw error;
  }
  return context;
}

function parseJson(text: string, fail: (problem: string) => Error): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw fail(error instanceof Error ? error.message : String(error));
  }
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}
