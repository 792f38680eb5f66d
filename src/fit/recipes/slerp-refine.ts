import { extended } from '../../object-shape.js';
import type { FloatFormat } from '../../format/dtype.js';
import { countExactMatches, emptyExactMatches, ExactMatchScratch, type ExactMatchCounts } from '../../engine/recipes/exact-match-count.js';
import { compileRecipe, SLERP_DOT_THRESHOLD } from '../../engine/recipes/merge-arithmetic.js';
import type { RecipeCandidate } from './snap-candidates.js';

const SEARCH_SPAN = 0.15;
const SEARCH_STEPS = 30;

/**
 * mergekit's SLERP computes its coefficients from the cosine between the two whole parent
 * tensors. A full scan has it exactly (the Gram sums); a sample only estimates it (the
 * angle was 6% off on a fifth of a 4,096-element fixture tensor), and a few percent off
 * moves a few percent of bf16 results by one step, so an untouched SLERP would not
 * replay bit for bit. This re-estimates each SLERP candidate's cosine from the elements
 * themselves: the angle that recomputes the most of them, searched over ±SEARCH_SPAN of
 * the estimated angle in SEARCH_STEPS steps each way, then as finely again around the
 * best (ties to the estimate). Elements where the parents agree say nothing about the
 * angle and are not counted.
 */
export function refineSlerpCosines(
  candidates: readonly RecipeCandidate[],
  suspect: Float64Array,
  parents: readonly Float64Array[],
  count: number,
  format: FloatFormat,
): RecipeCandidate[] {
  if (parents.length !== 2 || count === 0) return [...candidates];
  const scratch = new ExactMatchScratch(count);
  // Elements reproduced where the parents differ, per tried recipe: one replay of the
  // chunk per list (in WebAssembly for bf16), as the recipe pass counts them.
  const counted = (tried: readonly RecipeCandidate[]): ExactMatchCounts => {
    const counts = emptyExactMatches(tried.length);
    countExactMatches(suspect, parents, count, tried.map((c) => compileRecipe(c, format)), scratch, counts);
    return counts;
  };
  return candidates.map((candidate) => {
    if (candidate.method !== 'slerp' || candidate.cosine === undefined) return candidate;
    const angle = Math.acos(Math.min(1, Math.max(-1, candidate.cosine)));
    if (!(angle > 0)) return candidate;
    // Nearly parallel parents: mergekit takes plain lerp anywhere in the searched range,
    // and the cosine changes nothing.
    if (Math.abs(Math.cos(angle * (1 + SEARCH_SPAN))) > SLERP_DOT_THRESHOLD) return candidate;
    const estimate = counted([candidate]);
    if (estimate.parentsDiffer === 0) return candidate;
    let best = candidate;
    let bestHits = estimate.reproducedWhereParentsDiffer[0]!;
    if (bestHits === estimate.parentsDiffer) return candidate;
    let bestAngle = angle;
    // Coarse steps over the whole span, then as fine again around the best of them; the
    // first of equal counts wins, in the order tried.
    for (const [centre, span] of [
      [angle, SEARCH_SPAN * angle],
      [NaN, (SEARCH_SPAN * angle) / SEARCH_STEPS],
    ] as const) {
      const middle = Number.isNaN(centre) ? bestAngle : centre;
      const angles: number[] = [];
      for (let step = 1; step <= SEARCH_STEPS; step++) for (const sign of [-1, 1]) angles.push(middle + (sign * step * span) / SEARCH_STEPS);
      const tried = angles.map((a): RecipeCandidate => extended(candidate, { cosine: Math.cos(a) }));
      const hits = counted(tried).reproducedWhereParentsDiffer;
      tried.forEach((t, k) => {
        if (hits[k]! > bestHits) {
          best = t;
          bestHits = hits[k]!;
          bestAngle = angles[k]!;
        }
      });
    }
    return best;
  });
}
