/**
 * How large a JSON value is once written out, measured only as far as a limit needs: handler
 * results go to the database in one report, and a native core refuses a report over 64 MiB at its
 * boundary, so an oversized result must be caught (and named) before it gets there. Most results
 * are small; the cheap walk settles those without writing anything out.
 */
import type { JsonValue } from '../protocol/types.ts';

/** The UTF-8 size of `JSON.stringify(value)` when it may exceed `limit`; a smaller figure (≤ limit) otherwise. */
export function jsonBytesBeyond(value: JsonValue, limit: number): number {
  // A string's escapes write at most 6 bytes per UTF-16 unit (`\u001f`); a walk counting units
  // times 6 that stays under the limit proves the text does too.
  if (unitsUpTo(value, Math.ceil(limit / 6) + 1) * 6 <= limit) return 0;
  return utf8Length(JSON.stringify(value));
}

/** UTF-16 units of the strings and keys in `value` plus a few per other token, stopping past `cap`. */
function unitsUpTo(value: JsonValue, cap: number): number {
  let units = 0;
  const stack: JsonValue[] = [value];
  while (stack.length > 0 && units <= cap) {
    const item = stack.pop()!;
    if (typeof item === 'string') units += item.length + 2;
    else if (Array.isArray(item)) {
      units += 2 + item.length;
      for (const element of item) stack.push(element);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, element] of Object.entries(item)) {
        units += key.length + 4;
        stack.push(element);
      }
    } else units += 5;
  }
  return units;
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      // A surrogate pair is one 4-byte character (toJsonValue refuses lone surrogates).
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}
