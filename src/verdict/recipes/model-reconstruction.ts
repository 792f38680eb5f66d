import { compileRecipe, MERGE_ARITHMETICS, recipeKey } from '../../engine/recipes/merge-arithmetic.js';
import { floatFormat, type FloatFormat } from '../../format/dtype.js';
import type { MergeRecipe } from '../../engine/recipes/merge-arithmetic.js';
import type { RecipeCandidateReport, RecipeReport, ReconstructionReport, TensorReport } from '../../report-schema.js';

interface Tally {
  candidate: RecipeCandidateReport;
  reproduced: number;
  whereParentsDiffer: number;
}

/** Per-tensor data (a SLERP's cosine) is left out: the same recipe on every tensor has one key. */
function keyOf(c: RecipeCandidateReport): string {
  return recipeKey(c);
}

/**
 * The model's exact reconstruction from its tensors' recipe passes: each candidate
 * recipe (weights, arithmetic, normalisation) is credited with the elements it
 * reproduced in every tensor that tried it, over the elements replayed in all tensors —
 * so a recipe only some tensors tried (their fits disagreed) cannot look better than
 * one that holds everywhere. The best reproduces the most elements where the parents
 * differ; ties go to fewer typed digits, then to the simpler arithmetic (the order of
 * MERGE_ARITHMETICS). Null when no tensor replayed a candidate.
 */
export function modelReconstruction(tensors: readonly TensorReport[]): ReconstructionReport | null {
  const tallies = new Map<string, Tally>();
  let replayed = 0;
  let parentsDiffer = 0;
  let dtype: string | null = null;
  for (const t of tensors) {
    const recipes = t.recipes;
    if (!recipes || recipes.candidates.length === 0) continue;
    dtype ??= t.dtype;
    replayed += recipes.replayed;
    parentsDiffer += recipes.parentsDiffer;
    const seen = new Set<string>();
    for (const c of recipes.candidates) {
      const key = keyOf(c);
      // One tally per recipe and tensor, whatever the tensor's list holds.
      if (seen.has(key)) continue;
      seen.add(key);
      const tally = tallies.get(key) ?? { candidate: c, reproduced: 0, whereParentsDiffer: 0 };
      tally.reproduced += c.reproduced;
      tally.whereParentsDiffer += c.reproducedWhereParentsDiffer;
      tallies.set(key, tally);
    }
  }
  if (tallies.size === 0 || replayed === 0) return null;
  const informative = parentsDiffer > 0;
  const hits = (t: Tally): number => (informative ? t.whereParentsDiffer : t.reproduced);
  const complexity = (t: Tally): number => t.candidate.digits ?? 100;
  const ranked = [...tallies.values()].sort(
    (a, b) =>
      hits(b) - hits(a) ||
      b.reproduced - a.reproduced ||
      complexity(a) - complexity(b) ||
      MERGE_ARITHMETICS.indexOf(a.candidate.arithmetic) - MERGE_ARITHMETICS.indexOf(b.candidate.arithmetic),
  );
  const best = ranked[0]!;
  const format = dtype === null ? null : floatFormat(dtype);
  const report = (c: RecipeCandidateReport): RecipeReport => recipeReportOf(c, format);
  const denominator = informative ? parentsDiffer : replayed;
  return {
    recipe: report(best.candidate),
    elements: replayed,
    parentsDiffer,
    reproduced: best.reproduced,
    reproducedShare: best.reproduced / replayed,
    reproducedWhereParentsDifferShare: informative ? best.whereParentsDiffer / parentsDiffer : null,
    consistent: ranked.slice(1).filter((t) => hits(t) === hits(best) && t.reproduced === best.reproduced).map((t) => report(t.candidate)),
    runnersUp: ranked
      .filter((t) => hits(t) < hits(best))
      .slice(0, 5)
      .map((t) => ({ recipe: report(t.candidate), share: hits(t) / denominator })),
  };
}

/**
 * A recipe as the model report states it. A SLERP's coefficients depend on each tensor's
 * angle, so its effective weights are the nominal [1 − t, t] (the lerp it falls back to).
 */
export function recipeReportOf(c: MergeRecipe & { origin: RecipeReport['origin'] }, format: FloatFormat | null): RecipeReport {
  const compiled = format && c.method !== 'slerp' ? compileRecipe(c, format) : null;
  const report: RecipeReport = {
    weights: [...c.weights],
    arithmetic: c.arithmetic,
    normalise: c.normalise,
    effectiveWeights: compiled ? Array.from(compiled.effective, (w) => w / compiled.normaliser) : [...c.weights],
    origin: c.origin,
  };
  if (c.method === 'slerp') {
    report.method = 'slerp';
    report.t = c.t!;
  } else if (c.method === 'task-arithmetic') {
    report.method = 'task-arithmetic';
    report.base = c.base!;
  }
  return report;
}

/**
 * The model's weights for snapping candidates (snap-candidates.ts, SnapContext.modelWeights;
 * not wired into the analysis yet, which replays each tensor before all are fitted):
 * the element-weighted mean of the weights of every tensor whose fit is identifiable
 * and gives every weight. Null when no tensor does. A weighted mean, not the verdict's
 * weights, because it must exist whatever the verdict: it only proposes recipes, and the
 * replay decides.
 */
export function modelWeightsForSnapping(fits: readonly Pick<TensorReport, 'elements' | 'weights' | 'identifiability'>[]): number[] | null {
  let sums: number[] | null = null;
  let elements = 0;
  for (const fit of fits) {
    if (!fit.identifiability.identifiable || fit.elements <= 0 || !fit.weights.every((w) => w !== null && Number.isFinite(w))) continue;
    sums ??= new Array<number>(fit.weights.length).fill(0);
    if (fit.weights.length !== sums.length) continue;
    fit.weights.forEach((w, j) => (sums![j]! += fit.elements * w!));
    elements += fit.elements;
  }
  return sums && elements > 0 ? sums.map((s) => s / elements) : null;
}
