/**
 * "Did you mean" suggestions: the closest known word by edit distance (config keys, regions,
 * commands, flags). No dependencies, so the CLI can load it at start-up.
 * @module
 */

/** The allowed key nearest to `key` (edit distance ≤ 2, or one is a prefix of the other). */
export function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = key.toLowerCase();
  for (const candidate of allowed) {
    const c = candidate.toLowerCase();
    let d = editDistance(lower, c);
    const prefix = (c.startsWith(lower) || lower.startsWith(c)) &&
      Math.min(c.length, lower.length) >= 3;
    if (d > 2 && prefix) d = 2;
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= 2 ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}
