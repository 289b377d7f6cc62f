import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What {@link parseOptions} returns for a given option table. */
export type ParsedOptions<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: boolean }>
>;

/**
 * `parseArgs` in strict mode, with its TypeErrors (unknown option, missing value) turned
 * into {@link UsageError}s so the CLI exits with status 2 and a readable message.
 */
export function parseOptions<T extends Options>(args: readonly string[], options: T, allowPositionals = false): ParsedOptions<T> {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Parses a whole-number flag value, or fails with a usage error naming the flag. */
export function integerOption(value: string | undefined, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${flag} expects a whole number ${range}, got "${value}"`);
  }
  return Number(value);
}
