import type { FloatFormat } from '../../format/dtype.js';
import { compileRecipe, replayRecipe, sameBits, SLERP_DOT_THRESHOLD } from '../../engine/recipes/merge-arithmetic.js';
import type { RecipeCandidate } from './snap-candidates.js';

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
export const SEARCH_SPAN = 0.15;
export const SEARCH_STEPS = 30;

export function refineSlerpCosines(
  candidates: readonly RecipeCandidate[],
  suspect: Float64Array,
  parents: readonly Float64Array[],
  count: number,
  format: FloatFormat,
): RecipeCandidate[] {
  if (parents.length !== 2 || count === 0) return [...candidates];
  const differ: number[] = [];
  for (let i = 0; i < count; i++) if (!sameBits(parents[0]![i]!, parents[1]![i]!) && Number.isFinite(suspect[i]!)) differ.push(i);
  if (differ.length === 0) return [...candidates];
  const out = new Float64Array(count);
  const hits = (candidate: RecipeCandidate): number => {
    replayRecipe(compileRecipe(candidate, format), parents, count, out);
    let n = 0;
    for (const i of differ) if (sameBits(out[i]!, suspect[i]!)) n++;
    return n;
  };
  return candidates.map((candidate) => {
    if (candidate.method !== 'slerp' || candidate.cosine === undefined) return candidate;
    const angle = Math.acos(Math.min(1, Math.max(-1, candidate.cosine)));
    if (!(angle > 0)) return candidate;
    // Nearly parallel parents: mergekit takes plain lerp anywhere in the searched range,
    // and the cosine changes nothing.
    if (Math.abs(Math.cos(angle * (1 + SEARCH_SPAN))) > SLERP_DOT_THRESHOLD) return candidate;
    let best = candidate;
    let bestHits = hits(candidate);
    if (bestHits === differ.length) return candidate;
    let bestAngle = angle;
    // Coarse steps over the whole span, then as fine again around the best of them.
    for (const [centre, span] of [
      [angle, SEARCH_SPAN * angle],
      [NaN, (SEARCH_SPAN * angle) / SEARCH_STEPS],
    ] as const) {
      const middle = Number.isNaN(centre) ? bestAngle : centre;
      for (let step = 1; step <= SEARCH_STEPS; step++) {
        for (const sign of [-1, 1]) {
          const tried: RecipeCandidate = { ...candidate, cosine: Math.cos(middle + (sign * step * span) / SEARCH_STEPS) };
          const n = hits(tried);
          if (n > bestHits) {
            best = tried;
            bestHits = n;
            bestAngle = middle + (sign * step * span) / SEARCH_STEPS;
          }
        }
      }
    }
    return best;
  });
}
