/** "Did you mean ...?" for mistyped keys and values: the nearest candidate by edit distance. */

/** Levenshtein distance, case-insensitive: `Concurency` is one edit from `concurrency`. */
export function editDistance(a: string, b: string): number {
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  let previous = Array.from({ length: right.length + 1 }, (_, index) => index);
  for (let i = 1; i <= left.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= right.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (left[i - 1] === right[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[right.length] ?? 0;
}

/**
 * The candidate nearest to `input`, when it is near enough to be a likely typo (at most a third
 * of the input's length, and at least 2, edits away) or the start of one (`polling` for
 * `PollingOnly`); undefined otherwise.
 */
export function nearest(input: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(input.length / 3));
  const list = [...candidates];
  const lower = input.toLowerCase();
  const prefixed = lower.length >= 3 ? list.filter((candidate) => candidate.toLowerCase().startsWith(lower)) : [];
  if (prefixed.length === 1) return prefixed[0];
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of list) {
    const distance = editDistance(input, candidate);
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}
