import { extended } from '../object-shape.js';
import type { TensorMoments } from '../engine/moments.js';
import type { ElementwiseSums } from '../engine/recipes/elementwise-sums.js';
import { addRecipePassResults, emptyRecipePassResult, type RecipePassResult } from '../engine/recipes/recipe-pass.js';
import { mapInLanes } from '../engine/lanes.js';
import type { ScanEngine } from '../engine/scan-engine.js';
import type { ScanTensor } from '../engine/scan-tensor.js';
import type { FloatFormat } from '../format/dtype.js';
import { withDirectResidual } from '../fit/recipes/direct-residual.js';
import { readSlerp } from '../fit/recipes/slerp-reading.js';
import { methodFields, snapCandidates, type RecipeCandidate } from '../fit/recipes/snap-candidates.js';
import type { TensorFit } from '../fit/tensor-fit.js';
import type { ReplayEvidence } from '../verdict/tensor-verdict.js';
import type { ElementwiseSumsRecord, RecipeCandidateReport, TensorRecipesReport } from '../report-schema.js';

/**
 * Where the candidate recipes are replayed (recipe-pass.ts: the replay is the costly
 * part, up to MAX_CANDIDATES (30) candidates an element): REPLAY_BLOCKS blocks of REPLAY_BLOCK_ELEMENTS spread
 * evenly over each tensor, 8,192 elements in all, so that a tensor's first rows (an
 * embedding's special tokens, often untouched) do not stand for the whole of it.
 */
export const REPLAY_BLOCKS = 8;
export const REPLAY_BLOCK_ELEMENTS = 1024;
/** Candidates kept per tensor in the report: the model-level choice is among every tensor's best few. */
export const CANDIDATES_KEPT = 8;

/**
 * The recipe pass for one tensor (docs/forensics.md): a second read, on the engine's
 * threads, of what needs the fitted weights. The element-wise sums came with the moments.
 * `units` are the tensor's aligned pieces (one, or several for a fused tensor's slices).
 * `replayFormat` is the grid the suspect's values lie on; null when they cannot be
 * replayed exactly (a scaled or packed suspect), and then no candidate is tried.
 *
 * The whole tensor is read again only when a number needs it: the direct residual
 * (`directResidual`: a 32- or 64-bit grid, where the Gram residual cancels) or the
 * share the fitted blend reproduces when the exact-hit profile gave none (three or more
 * parents, no clear peak). Otherwise only the replay's blocks (replayBlocks) are read.
 * Returns the fit with what the pass measured, and the recipes report.
 */
export async function measureRecipes(
  engine: ScanEngine,
  units: readonly ScanTensor[],
  moments: TensorMoments,
  fit: TensorFit,
  options: {
    reference: number;
    informativeUlps: number;
    replayFormat: FloatFormat | null;
    directResidual: boolean;
    /** The --base index (task-arithmetic candidates), null or absent without --base. */
    base?: number | null;
    /** The model's weights, when known, to replay the model's recipe on every tensor (snap-candidates.ts; no caller has them yet). */
    modelWeights?: readonly number[] | null;
  },
): Promise<{ fit: TensorFit; recipes: TensorRecipesReport | null }> {
  const format = options.replayFormat;
  if (units.length === 0 || moments.used === 0) return { fit, recipes: null };
  const weights = fit.weights.every((w) => w !== null) ? (fit.weights as number[]) : null;
  const candidates = format ? recipeCandidates(fit, moments, format, options) : [];
  const countReproduced = fit.reproducedShare === null && weights !== null && fit.informative > 0;
  const residual = weights !== null && (options.directResidual || countReproduced);
  const request = {
    reference: options.reference,
    informativeUlps: options.informativeUlps,
    weights,
    recipes: candidates,
    replayDtype: format?.dtype ?? null,
  };
  const result = emptyRecipePassResult(candidates.length, residual);
  // Every unit's residual, then the replay's blocks: a window of them at a time (lanes.ts), added in this order.
  const reads: (() => Promise<RecipePassResult>)[] = [];
  if (residual) {
    for (const unit of units) reads.push(() => engine.recipes(unit, extended(request, { replayElements: 0, residual: true }), { from: 0, to: unit.suspect.elements }));
  }
  if (candidates.length > 0) {
    for (const block of replayBlocks(units.map((u) => u.suspect.elements))) {
      const range = { from: block.from, to: block.to };
      reads.push(() => engine.recipes(units[block.unit]!, extended(request, { replayElements: block.to - block.from, residual: false }), range));
    }
  }
  for (const part of await mapInLanes(reads, engine.unitLanes, (read) => read())) addRecipePassResults(result, part);
  const measuredFit = result.rss === null || !options.directResidual ? gramMeasured(fit) : withDirectResidual(fit, moments, result.rss);
  // Without an exact-hit profile (three or more parents, or no clear peak), what the
  // fitted blend reproduces comes from this same read.
  if (countReproduced && result.informative > 0) measuredFit.reproducedShare = result.reproduced / result.informative;
  return { fit: measuredFit, recipes: recipesReport(candidates, result, moments.elementwise) };
}

/** The fit, its residual from the Gram formula: a copy (fitTensor's object has the rssMethod slot, so the copy keeps its hidden class). */
function gramMeasured(fit: TensorFit): TensorFit {
  const measured = { ...fit };
  measured.rssMethod = 'gram';
  return measured;
}

/** The recipes to replay on a tensor, snapped from its fit (and the model's weights, the base, a SLERP reading). */
export function recipeCandidates(
  fit: TensorFit,
  moments: TensorMoments,
  format: FloatFormat,
  options: { base?: number | null; modelWeights?: readonly number[] | null },
): RecipeCandidate[] {
  return snapCandidates(fit.weights, fit.weightsStdErr, format, {
    slerp: readSlerp(moments, format),
    base: options.base ?? null,
    modelWeights: options.modelWeights ?? null,
  });
}

/** The report of a replay: the candidates best first (most reproduced where the parents differ), the best CANDIDATES_KEPT. */
export function recipesReport(candidates: readonly RecipeCandidate[], result: RecipePassResult, elementwise: ElementwiseSums): TensorRecipesReport {
  const measured: RecipeCandidateReport[] = candidates.map((c, r) => ({
    weights: [...c.weights],
    arithmetic: c.arithmetic,
    normalise: c.normalise,
    origin: c.origin,
    digits: c.digits,
    reproduced: result.matches.reproduced[r]!,
    reproducedWhereParentsDiffer: result.matches.reproducedWhereParentsDiffer[r]!,
    ...methodFields(c),
  }));
  measured.sort((a, b) => b.reproducedWhereParentsDiffer - a.reproducedWhereParentsDiffer || b.reproduced - a.reproduced);
  return {
    replayed: result.matches.finite,
    parentsDiffer: result.matches.parentsDiffer,
    candidates: measured.slice(0, CANDIDATES_KEPT),
    elementwise: elementwiseRecord(elementwise),
  };
}

/**
 * The replay's blocks over a group's units laid end to end: REPLAY_BLOCKS blocks centred
 * at evenly spaced points, each cut at its unit's end; the whole group when it is no
 * longer than the blocks together.
 */
export function replayBlocks(unitElements: readonly number[]): { unit: number; from: number; to: number }[] {
  const total = unitElements.reduce((a, b) => a + b, 0);
  const blocks: { unit: number; from: number; to: number }[] = [];
  if (total <= REPLAY_BLOCKS * REPLAY_BLOCK_ELEMENTS) {
    unitElements.forEach((elements, unit) => {
      if (elements > 0) blocks.push({ unit, from: 0, to: elements });
    });
    return blocks;
  }
  for (let b = 0; b < REPLAY_BLOCKS; b++) {
    // Blocks do not overlap: the centres are total/REPLAY_BLOCKS apart, more than a block.
    let start = Math.floor(((b + 0.5) * total) / REPLAY_BLOCKS) - REPLAY_BLOCK_ELEMENTS / 2;
    let unit = 0;
    while (start >= unitElements[unit]!) start -= unitElements[unit++]!;
    blocks.push({ unit, from: start, to: Math.min(start + REPLAY_BLOCK_ELEMENTS, unitElements[unit]!) });
  }
  return blocks;
}

/**
 * The best candidate's reproduction where the parents differ, for the verdict; only on a
 * 16-bit grid, where the replayed arithmetics cover how merges are really computed (on
 * a 32-bit grid an accelerator's fused multiply-adds round differently from any of them,
 * and there a trained blend is far above the floor anyway).
 */
export function replayEvidence(recipes: TensorRecipesReport | null, replayDtype: string | null): ReplayEvidence | null {
  if (recipes === null || recipes.candidates.length === 0 || (replayDtype !== 'BF16' && replayDtype !== 'F16')) return null;
  // Candidates are sorted best first (tensor-recipes.ts).
  const best = recipes.candidates[0]!;
  return { parentsDiffer: recipes.parentsDiffer, reproduced: best.reproducedWhereParentsDiffer, weights: best.weights };
}

export function elementwiseRecord(sums: ElementwiseSums): ElementwiseSumsRecord {
  return extended(sums, { movedGram: Array.from(sums.movedGram), largeGram: Array.from(sums.largeGram) });
}
