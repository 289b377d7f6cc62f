/**
 * Suggestions for misspelt keys (`stpes` → `steps`, `dependencies` typed as `dependancies`).
 */

/** The candidate closest to `word`, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  // `timeout` for `timeout_ms`, `retry_max_attempts` for `max_attempts`: a prefix or suffix is a
  // likelier intent than a spelling that happens to be close.
  const partial = lower.length >= 4 ? candidates.find((c) => c.startsWith(lower) || lower.endsWith(c) || lower.startsWith(c)) : undefined;
  if (partial !== undefined) return partial;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A third of the word's length (at least 1, at most 3) keeps `foo` from suggesting `name`.
  return bestDistance <= Math.min(3, Math.max(1, Math.floor(word.length / 3))) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
