/**
 * Cutting text for messages and stored descriptions. A cut never falls between the two halves of
 * a surrogate pair: PostgreSQL refuses the half left, and a lone half is not valid UTF-8 in an
 * HTTP header either.
 */

/** `text` cut to at most `max` UTF-16 units, the cut marked with `…`; unchanged when it fits. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}
