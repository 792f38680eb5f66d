import type { FloatFormat } from '../../format/dtype.js';
import type { LogicalTensor } from '../../format/logical-tensor.js';
import { accumulateElementwise, emptyElementwiseSums, type ElementwiseSums } from './elementwise-sums.js';
import { countExactMatches, emptyExactMatches, ExactMatchScratch, type ExactMatchCounts } from './exact-match-count.js';
import { compileRecipe, type MergeRecipe } from './merge-arithmetic.js';

/**
 * The recipe pass: a second read of one tensor, after its fit, that measures what the
 * moments cannot (docs/forensics.md):
 * - the residual ‖s − Σ w_j p_j‖² at the reported blend weights, element by element in
 *   float64 (each chunk summed plainly, the chunk totals with Neumaier compensation).
 *   The Gram formula ‖e‖² − 2βᵀDᵀe + βᵀDᵀDβ cancels catastrophically when the residual
 *   is 1e-8 of ‖e‖² (an F32 suspect of far-apart parents); this does not;
 * - how many informative elements (parents ≥ informativeUlps of the suspect's step
 *   apart) the blend at those weights reproduces bit for bit — what the engine's
 *   countReproduced measures, here without a read of its own;
 * - the element-wise sums relative to the reference (TIES, DARE, breadcrumbs);
 * - for each candidate recipe, the elements it reproduces bit for bit — over the first
 *   `replayElements` elements of the range only: replaying ~30 recipes costs ~1 µs an
 *   element, the rest of the pass ~10 ns, so the replay is a sample (the report says how
 *   many elements it covered).
 */
export interface RecipePassRequest {
  reference: number;
  informativeUlps: number;
  /** Blend weights per parent (--parents order, summing to 1) at which to measure the residual; null: skip it. */
  weights: readonly number[] | null;
  recipes: readonly MergeRecipe[];
  /** The grid the suspect's values lie on: the recipes are replayed into it (null only without recipes). */
  format: FloatFormat | null;
  replayElements: number;
  chunkElements: number;
}

export interface RecipePassResult {
  /** Elements finite in the suspect and every parent, and the direct residual over them (null when not asked). */
  used: number;
  rss: number | null;
  /** Informative elements, and those the blend at `weights` reproduces (0 and 0 when not asked). */
  informative: number;
  reproduced: number;
  elementwise: ElementwiseSums;
  matches: ExactMatchCounts;
}

export interface RecipePassInput {
  readonly suspect: LogicalTensor;
  /** In --parents order. */
  readonly parents: readonly LogicalTensor[];
}

/** Reads elements [from, to) of every input chunk by chunk and measures them (see above). */
export async function recipePass(input: RecipePassInput, request: RecipePassRequest, from = 0, to = input.suspect.elements): Promise<RecipePassResult> {
  const k = input.parents.length;
  const n = Math.max(1, Math.min(request.chunkElements, to - from));
  const suspect = new Float64Array(n);
  const above = new Float64Array(n);
  const below = new Float64Array(n);
  const parents = Array.from({ length: k }, () => new Float64Array(n));
  const vector = new Float64Array(k);
  const scratch = new ExactMatchScratch(n);
  const format = request.format;
  if (request.recipes.length > 0 && format === null) throw new Error('recipePass: recipes to replay need the suspect format');
  const compiled = format === null ? [] : request.recipes.map((recipe) => compileRecipe(recipe, format));
  const elementwise = emptyElementwiseSums(k, request.reference);
  const matches = emptyExactMatches(compiled.length);
  const weights = request.weights;
  let used = 0;
  let informative = 0;
  let reproduced = 0;
  // Neumaier-compensated total of the per-chunk residual sums.
  let rss = 0;
  let rssCompensation = 0;
  const replayEnd = Math.min(to, from + request.replayElements);

  for (let first = from; first < to; first += n) {
    const count = Math.min(n, to - first);
    await input.suspect.read(first, count, suspect, above, below);
    for (let j = 0; j < k; j++) await input.parents[j]!.read(first, count, parents[j]!);
    accumulateElementwise(suspect, above, below, parents, count, request.informativeUlps, vector, elementwise);
    if (first < replayEnd) countExactMatches(suspect, parents, Math.min(count, replayEnd - first), compiled, scratch, matches);
    let chunkRss = 0;
    const base = parents[request.reference]!;
    for (let i = 0; i < count; i++) {
      const s = suspect[i]!;
      const r = base[i]!;
      if (!Number.isFinite(s) || !Number.isFinite(r)) continue;
      // e − Σ β_j d_j on differences from the reference (statistics.md): the weights sum
      // to 1, and the large common part r cancels exactly before any product is formed.
      let change = 0;
      let largestDifference = 0;
      let finite = true;
      for (let j = 0; j < k; j++) {
        const p = parents[j]![i]!;
        if (!Number.isFinite(p)) finite = false;
        if (j === request.reference) continue;
        const d = p - r;
        const absD = d < 0 ? -d : d;
        if (absD > largestDifference) largestDifference = absD;
        if (weights) change += weights[j]! * d;
      }
      if (!finite) continue;
      used++;
      const residual = s - r - change;
      chunkRss += residual * residual;
      if (!weights || largestDifference === 0) continue;
      const up = above[i]!;
      const down = below[i]!;
      if (largestDifference < request.informativeUlps * (up > down ? up : down)) continue;
      informative++;
      // The blend r + Σ w_j d_j inside the suspect value's rounding cell: reproduced.
      // blend ≥ s − below/2 and blend ≤ s + above/2, with s − blend = residual.
      if (residual <= down / 2 && residual >= -up / 2) reproduced++;
    }
    const total = rss + chunkRss;
    rssCompensation += Math.abs(rss) >= Math.abs(chunkRss) ? rss - total + chunkRss : chunkRss - total + rss;
    rss = total;
  }
  return { used, rss: weights ? rss + rssCompensation : null, informative, reproduced, elementwise, matches };
}
