import type { ExactMatchCounts } from '../../engine/recipes/exact-match-count.js';
import type { CompiledRecipe } from '../../engine/recipes/merge-arithmetic.js';
import type { RecipeCandidate } from './snap-candidates.js';

/** What exact reconstruction found for one tensor, or for the model (counts summed over tensors). */
export interface Reconstruction {
  /** The recipe that reproduces the most elements where the parents differ. */
  readonly recipe: RecipeCandidate;
  /** Weights as its arithmetic really used them (bf16 0.6 → 0.6015625), divided by its normaliser. */
  readonly effectiveWeights: number[];
  readonly finite: number;
  readonly parentsDiffer: number;
  /** Elements reproduced bit for bit, among all finite elements. */
  readonly reproduced: number;
  readonly reproducedShare: number;
  /** Among the elements where the parents differ: the share that proves something; null when there are none. */
  readonly reproducedWhereParentsDifferShare: number | null;
  /**
   * Every candidate that reproduces exactly as many elements as the chosen one: the data
   * cannot tell these recipes apart (float32 and float64 arithmetic agree on most
   * elements; tenths and hundredths name the same weight).
   */
  readonly consistent: RecipeCandidate[];
  /** Every candidate with its share where parents differ (all finite elements when parents never differ), best first. */
  readonly ranking: { recipe: RecipeCandidate; share: number }[];
}

/** Simpler explanations win ties: fewer typed digits, then arithmetic in the order listed by the candidates. */
function complexity(candidate: RecipeCandidate): number {
  return candidate.digits === null ? 100 : candidate.digits;
}

/**
 * Picks the candidate reproducing most elements where the parents differ (where a
 * recipe can be wrong); ties — equal counts — go to the recipe with fewer typed digits,
 * then to the earlier candidate. Null when there are no candidates or no finite element.
 */
export function chooseReconstruction(
  compiled: readonly CompiledRecipe[],
  candidates: readonly RecipeCandidate[],
  counts: ExactMatchCounts,
): Reconstruction | null {
  if (candidates.length === 0 || counts.finite === 0) return null;
  if (compiled.length !== candidates.length || counts.reproduced.length !== candidates.length) {
    throw new Error('chooseReconstruction: candidates, compiled recipes and counts differ in length');
  }
  const informative = counts.parentsDiffer > 0;
  const hits = (r: number): number => (informative ? counts.reproducedWhereParentsDiffer[r]! : counts.reproduced[r]!);
  const denominator = informative ? counts.parentsDiffer : counts.finite;
  const order = candidates.map((_, r) => r);
  order.sort((a, b) => hits(b) - hits(a) || counts.reproduced[b]! - counts.reproduced[a]! || complexity(candidates[a]!) - complexity(candidates[b]!) || a - b);
  const best = order[0]!;
  const chosen = compiled[best]!;
  return {
    recipe: candidates[best]!,
    effectiveWeights: Array.from(chosen.effective, (w) => w / chosen.normaliser),
    finite: counts.finite,
    parentsDiffer: counts.parentsDiffer,
    reproduced: counts.reproduced[best]!,
    reproducedShare: counts.reproduced[best]! / counts.finite,
    reproducedWhereParentsDifferShare: informative ? counts.reproducedWhereParentsDiffer[best]! / counts.parentsDiffer : null,
    consistent: order.filter((r) => hits(r) === hits(best) && counts.reproduced[r] === counts.reproduced[best]).map((r) => candidates[r]!),
    ranking: order.map((r) => ({ recipe: candidates[r]!, share: hits(r) / denominator })),
  };
}
