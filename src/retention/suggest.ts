/**
 * "Did you mean" for policy field names: a misspelled key is refused, and the error names the known
 * field it most likely meant.
 */

/**
 * Edit distance with adjacent transpositions (optimal string alignment): `Contianer` is one edit from
 * `Container`, as a typist would count it. Quadratic, on field names of a few dozen characters.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // Three rows suffice: the transposition looks two rows back.
  let previous2: number[] = [];
  let previous: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current: number[] = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, (previous2[j - 2] ?? 0) + 1);
      current.push(best);
    }
    previous2 = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Field names longer than this are not compared: no real key is that long, and the cost stays bounded. */
const MAX_COMPARED_LENGTH = 64;

/**
 * The known name `typed` most likely meant, or undefined when none is close. Case is ignored first
 * (`globalpolicy`, `Spec`), then up to a third of the name may differ, at least two edits (one for
 * names of up to four letters): `containerPolicy` for `containerPolicies`, `maxCheckpointPerContainer`
 * for `maxCheckpointsPerContainer`. Ties go to the earlier candidate, so the answer depends only on
 * the inputs.
 */
export function closestName(typed: string, candidates: readonly string[]): string | undefined {
  if (typed.length === 0 || typed.length > MAX_COMPARED_LENGTH) return undefined;
  const lower = typed.toLowerCase();
  const sameLetters = candidates.find((candidate) => candidate.toLowerCase() === lower);
  if (sameLetters !== undefined) return sameLetters;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    const longer = Math.max(typed.length, candidate.length);
    // Two edits turn any three-letter word into another (`foo` into `pod`): short names get one.
    const allowed = longer <= 4 ? 1 : Math.max(2, Math.floor(longer / 3));
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
