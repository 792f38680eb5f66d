import type { SubsetFits } from '../../fit/recipes/subset-fits.js';
import { noiseRatioOf } from '../../fit/tensor-fit.js';

/**
 * Dropping a candidate that raises the model's residual (Σ rss over tensors) by less
 * than this share means it adds nothing. Why a relative test and not a significance
 * test: with millions of elements every candidate is "significant" — any fine-tune of
 * the same base correlates with the suspect's rounding noise a little — while a parent
 * that is really in the mix raises the residual of an untouched merge many times over
 * (unless its weight is small and the parents differ by a single step, below) and
 * that of a merge trained afterwards by its weighted difference from the others,
 * which is comparable to the training change itself.
 * Where parents are a few rounding steps apart, candidates that are not in the mix
 * still model a little of the suspect's rounding: on fixtures/blend-small-delta
 * (0.4·A + 0.6·B, candidates A, B, C, base) adding C lowers the residual by 2.9%, the
 * base 1.8%, both 3.9%, while dropping A or B multiplies it by 7 and 19. On the
 * synthetic tensors of test/verdict/recipes (suspect 0.9·B + 0.1·D) irrelevant
 * candidates move it by 0.02–0.26%, and dropping D (weight 0.1) raises it by 12% with
 * parents 1 bf16 step apart — about the weakest parent that can be seen at all there —
 * 136% at 2 steps, 1,750% at 8.
 */
export const ADDS_NOTHING_RSS_INCREASE = 0.1;

export interface ParentDiscovery {
  /** Candidates (--parents order) that explain the suspect: the smallest subset found whose residual matches all candidates'. */
  explaining: number[];
  /** Candidates dropped because they add nothing, in the order they were dropped. */
  addNothing: number[];
  /** Model-level noiseRatio, sqrt(Σ rss / Σ floor), with every candidate and with the explaining subset. */
  noiseRatioAll: number;
  noiseRatioExplaining: number;
  /** Evidence that each explaining parent is needed: the model's noiseRatio without it. */
  withoutEach: { parent: number; noiseRatio: number }[];
  /** Weights of the explaining subset per parent (null outside it or where no tensor identifies it): element-weighted mean over tensors. */
  weights: (number | null)[];
}

/**
 * Backward elimination over the model's summed subset residuals: starting from every
 * candidate, repeatedly drop the one whose removal raises Σ rss least, while that rise
 * is below ADDS_NOTHING_RSS_INCREASE of the current residual (measured against the
 * current subset, so a chain of tiny steps cannot add up to a real loss: each step is
 * also checked against all candidates' residual). Tensors with no used element are
 * skipped. Null when no tensor was fitted.
 */
export function discoverParents(tensors: readonly SubsetFits[]): ParentDiscovery | null {
  const fitted = tensors.filter((t) => t.used > 0);
  if (fitted.length === 0) return null;
  const k = fitted[0]!.parents;
  if (fitted.some((t) => t.parents !== k)) throw new Error('discoverParents: tensors fitted against different candidate lists');
  const subsets = 1 << k;
  const total = new Float64Array(subsets);
  let floor = 0;
  for (const t of fitted) {
    floor += t.floor;
    for (let mask = 1; mask < subsets; mask++) total[mask]! += t.rss[mask]!;
  }
  const all = subsets - 1;
  const allowed = total[all]! * (1 + ADDS_NOTHING_RSS_INCREASE);
  let current = all;
  const addNothing: number[] = [];
  for (;;) {
    let best = -1;
    let bestRss = Infinity;
    for (let j = 0; j < k; j++) {
      if (!(current & (1 << j)) || current === 1 << j) continue;
      const without = total[current & ~(1 << j)]!;
      if (without < bestRss) {
        bestRss = without;
        best = j;
      }
    }
    if (best < 0 || bestRss > total[current]! * (1 + ADDS_NOTHING_RSS_INCREASE) || bestRss > allowed) break;
    current &= ~(1 << best);
    addNothing.push(best);
  }

  const explaining: number[] = [];
  for (let j = 0; j < k; j++) if (current & (1 << j)) explaining.push(j);
  const withoutEach = explaining.length > 1
    ? explaining.map((parent) => ({ parent, noiseRatio: noiseRatioOf(total[current & ~(1 << parent)]!, floor) }))
    : [];
  const weights: (number | null)[] = new Array<number | null>(k).fill(null);
  for (const j of explaining) {
    let sum = 0;
    let elements = 0;
    for (const t of fitted) {
      const w = t.weights[current * k + j]!;
      if (Number.isNaN(w)) continue;
      sum += t.used * w;
      elements += t.used;
    }
    if (elements > 0) weights[j] = sum / elements;
  }
  return {
    explaining,
    addNothing,
    noiseRatioAll: noiseRatioOf(total[all]!, floor),
    noiseRatioExplaining: noiseRatioOf(total[current]!, floor),
    withoutEach,
    weights,
  };
}
