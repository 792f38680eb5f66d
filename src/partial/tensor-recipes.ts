import type { TensorMoments } from '../engine/moments.js';
import { addElementwiseSums, type ElementwiseSums } from '../engine/recipes/elementwise-sums.js';
import { addExactMatches } from '../engine/recipes/exact-match-count.js';
import { recipePass, type RecipePassInput, type RecipePassResult } from '../engine/recipes/recipe-pass.js';
import { DEFAULT_CHUNK_ELEMENTS } from '../engine/scan-tensor.js';
import type { FloatFormat } from '../format/dtype.js';
import { withDirectResidual } from '../fit/recipes/direct-residual.js';
import { snapCandidates } from '../fit/recipes/snap-candidates.js';
import type { TensorFit } from '../fit/tensor-fit.js';
import type { ElementwiseSumsRecord, RecipeCandidateReport, TensorRecipesReport } from '../report-schema.js';

/** Elements of each tensor the candidate recipes are replayed on (recipe-pass.ts: the replay is the costly part). */
export const REPLAY_ELEMENTS = 1 << 15;
/** Candidates kept per tensor in the report: the model-level choice is among every tensor's best few. */
export const CANDIDATES_KEPT = 8;

/**
 * The recipe pass for one tensor (docs/forensics.md): a second read that measures the
 * residual directly at the fitted weights, the element-wise sums, and the candidate
 * recipes' exact reproduction. `units` are the tensor's aligned pieces (one, or several
 * for a fused tensor's slices), read through their logical readers. `replayFormat` is
 * the grid the suspect's values lie on; null when they cannot be replayed exactly (a
 * scaled or packed suspect), and then no candidate is tried. Returns the fit with the
 * direct residual when the weights are known, and what the pass measured.
 */
export async function measureRecipes(
  units: readonly RecipePassInput[],
  moments: TensorMoments,
  fit: TensorFit,
  options: { reference: number; informativeUlps: number; replayFormat: FloatFormat | null; directResidual?: boolean; chunkElements?: number },
): Promise<{ fit: TensorFit; recipes: TensorRecipesReport | null }> {
  const format = options.replayFormat;
  if (units.length === 0 || moments.used === 0) return { fit, recipes: null };
  const weights = fit.weights.every((w) => w !== null) ? (fit.weights as number[]) : null;
  const candidates = weights && format ? snapCandidates(weights, fit.weightsStdErr, format) : [];
  let result: RecipePassResult | null = null;
  for (const unit of units) {
    const part = await recipePass(unit, {
      reference: options.reference,
      informativeUlps: options.informativeUlps,
      weights,
      recipes: candidates,
      format,
      replayElements: Math.max(0, REPLAY_ELEMENTS - (result?.matches.finite ?? 0)),
      chunkElements: options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS,
    });
    if (result === null) result = part;
    else {
      result.used += part.used;
      result.informative += part.informative;
      result.reproduced += part.reproduced;
      result.rss = result.rss === null || part.rss === null ? null : result.rss + part.rss;
      addElementwiseSums(result.elementwise, part.elementwise);
      addExactMatches(result.matches, part.matches);
    }
  }
  if (result === null) return { fit, recipes: null };
  const measured: RecipeCandidateReport[] = candidates.map((c, r) => ({
    weights: [...c.weights],
    arithmetic: c.arithmetic,
    normalise: c.normalise,
    origin: c.origin,
    digits: c.digits,
    reproduced: result.matches.reproduced[r]!,
    reproducedWhereParentsDiffer: result.matches.reproducedWhereParentsDiffer[r]!,
  }));
  measured.sort((a, b) => b.reproducedWhereParentsDiffer - a.reproducedWhereParentsDiffer || b.reproduced - a.reproduced);
  const measuredFit = result.rss === null || options.directResidual === false ? { ...fit, rssMethod: 'gram' as const } : withDirectResidual(fit, moments, result.rss);
  // Without an exact-hit profile (three or more parents, or no clear peak), what the
  // fitted blend reproduces comes from this same read.
  if (measuredFit.reproducedShare === null && weights !== null && result.informative > 0) {
    measuredFit.reproducedShare = result.reproduced / result.informative;
  }
  return {
    fit: measuredFit,
    recipes: {
      replayed: result.matches.finite,
      parentsDiffer: result.matches.parentsDiffer,
      candidates: measured.slice(0, CANDIDATES_KEPT),
      elementwise: elementwiseRecord(result.elementwise),
    },
  };
}

export function elementwiseRecord(sums: ElementwiseSums): ElementwiseSumsRecord {
  return { ...sums, movedGram: Array.from(sums.movedGram), largeGram: Array.from(sums.largeGram) };
}
