import { compileRecipe, MERGE_ARITHMETICS } from '../../engine/recipes/merge-arithmetic.js';
import { floatFormat } from '../../format/dtype.js';
import type { RecipeCandidateReport, RecipeReport, ReconstructionReport, TensorReport } from '../../report-schema.js';

interface Tally {
  candidate: RecipeCandidateReport;
  reproduced: number;
  whereParentsDiffer: number;
}

function keyOf(c: RecipeCandidateReport): string {
  return `${c.arithmetic}${c.normalise ? '/normalised' : ''}:${c.weights.join(',')}`;
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
  const report = (c: RecipeCandidateReport): RecipeReport => {
    const compiled = format ? compileRecipe(c, format) : null;
    return {
      weights: [...c.weights],
      arithmetic: c.arithmetic,
      normalise: c.normalise,
      effectiveWeights: compiled ? Array.from(compiled.effective, (w) => w / compiled.normaliser) : [...c.weights],
      origin: c.origin,
    };
  };
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
