/**
 * The C ABI's answers (docs/bindings.md, "The C ABI"): every function returns a newly allocated,
 * NUL-terminated JSON *envelope*, `{"ok":true,"value":…}` or
 * `{"ok":false,"error":{"code":"…","message":"…"}}`, which the caller owns and must pass to
 * `tasker_string_free` exactly once. {@link takeCString} is the one place the loaders turn a
 * returned pointer into a string, and it frees the pointer whatever happens; {@link openEnvelope}
 * turns the text into the value or a typed error.
 */
import { TaskerError } from '../../errors.ts';
import { nativeError, nativeErrorBody } from '../wire.ts';

export { NativeCoreError, type NativeErrorBody } from '../wire.ts';

/** The library broke the C ABI's contract: a null pointer, or text that is not an envelope. */
export class NativeEnvelopeError extends TaskerError {
  constructor(
    message: string,
    readonly operation: string,
  ) {
    super('NATIVE_ENVELOPE_INVALID', `${operation}: ${message}`);
  }
}

/**
 * Reads the NUL-terminated UTF-8 string at `pointer` and frees it with `free` exactly once, even
 * when reading throws. A null pointer is never passed to `free` (it was not allocated) and becomes
 * a {@link NativeEnvelopeError}: the C ABI never returns one.
 */
export function takeCString<P>(
  pointer: P | null | undefined,
  read: (pointer: P) => string,
  free: (pointer: P) => void,
  operation: string,
): string {
  if (pointer === null || pointer === undefined || pointer === 0 || pointer === 0n) throw nullEnvelopeError(operation);
  try {
    return read(pointer);
  } finally {
    free(pointer);
  }
}

/** The error for a function that returned NULL instead of an envelope. */
export function nullEnvelopeError(operation: string): NativeEnvelopeError {
  return new NativeEnvelopeError('returned a null pointer instead of an envelope', operation);
}

/**
 * Parses an envelope: the `value` when `ok`; else throws the SDK error for its `error`
 * (../wire.ts, nativeError: the same classes the `pg` binding throws, or NativeCoreError).
 */
export function openEnvelope(text: string, operation: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new NativeEnvelopeError(`answered text that is not JSON: ${preview(text)} (${error instanceof Error ? error.message : String(error)})`, operation);
  }
  return openParsedEnvelope(parsed, operation, text);
}

/**
 * {@link openEnvelope} for an envelope already parsed: one item of an array of envelopes
 * (napi's reportMany, the C ABI's completions). `text` is only for messages.
 */
export function openParsedEnvelope(parsed: unknown, operation: string, text?: string): unknown {
  // Rendered only for an error message.
  const shown = (): string => preview(text ?? JSON.stringify(parsed) ?? String(parsed));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new NativeEnvelopeError(`answered ${shown()}, not an envelope object`, operation);
  }
  const envelope = parsed as { ok?: unknown; value?: unknown; error?: unknown };
  if (envelope.ok === true) return envelope.value;
  if (envelope.ok === false) {
    const body = nativeErrorBody(envelope.error);
    if (body !== undefined) throw nativeError(body, operation);
    throw new NativeEnvelopeError(`answered an error envelope without a string code and message: ${shown()}`, operation);
  }
  throw new NativeEnvelopeError(`answered an envelope whose "ok" is not a boolean: ${shown()}`, operation);
}

function preview(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}
