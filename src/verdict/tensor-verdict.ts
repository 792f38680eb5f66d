import { aboveChance, PEAK_MIN_SHARE } from '../fit/exact-hit-profile.js';
import type { TensorEvidence } from '../fit/tensor-fit.js';
import type { TensorKind, Thresholds } from '../report-schema.js';

/** Why a tensor is inconclusive (statistics.md: "say why"). */
export type InconclusiveReason =
  /** Every element was NaN/Infinity somewhere (or the tensor is empty). */
  | 'no-finite-elements'
  /** Some parents' weights cannot be told apart, and the residual is above the floor. */
  | 'weights-not-identifiable';

export interface TensorVerdict {
  kind: TensorKind;
  /** For identical/derived: the parent index; else null. */
  parent: number | null;
  reason: InconclusiveReason | null;
}

/**
 * One tensor's kind (statistics.md, "Verdict kinds"), decided in this order:
 *
 * 1. no used element → inconclusive (no-finite-elements);
 * 2. every used element bit-equal to parent j → identical to j (the first such parent).
 *    Non-finite elements are excluded from the moments, so they are not compared: the
 *    report carries their count next to the kind;
 * 3. relativeResidual ≥ unrelatedResidual (or a residual on an all-zero suspect) → unrelated;
 *    then a candidate recipe mixing two or more parents that recomputes ≥ 99.9% of the
 *    replayed elements where the parents differ (`replay`, REPLAY_EXACT_SHARE) → blend,
 *    whatever the noiseRatio;
 * 4. some weight not identifiable: at the floor → blend (a blend whose split between
 *    the indistinguishable parents is unknown), above it → inconclusive;
 * 5. at the floor (noiseRatio ≤ blendMaxNoise): ≥ 2 parents with |weight| ≥ minWeight →
 *    blend (negative weights count: at the floor an extrapolation such as task
 *    arithmetic is as much a linear combination as an interpolation) — unless the
 *    replay of candidate recipes (`replay`) shows the blend is not all there is: with
 *    weights summing to 1 and at least REPLAY_MIN_ELEMENTS replayed where the parents
 *    differ, no recipe reproduces REPLAY_MIN_SHARE of them bit for bit → modified-blend
 *    (statistics.md: a lightly trained blend sits at the floor too, and only the
 *    reconstruction under the right arithmetic tells it apart); otherwise the suspect
 *    is one parent re-rounded → derived from the heaviest parent;
 * 6. above the floor, a merge needs evidence (do not accuse on correlation: a
 *    fine-tune that drifted toward another parent fits as 0.84·A + 0.16·B):
 *    - a second parent with weight ≥ modifiedMinWeight (positive: a large negative
 *      weight above the floor is a fine-tune continuing past its parent), or
 *    - the blend's arithmetic still visible element by element: the exact-hit profile
 *      is above chance and the fitted weights reproduce at least PEAK_MIN_SHARE of the
 *      informative elements bit for bit (src/fit/exact-hit-profile.ts gives the
 *      data), with every weight at least MERGE_PEAK_MIN_WEIGHT in size;
 *    with evidence → modified-blend, without → derived from the heaviest parent.
 */
/**
 * How far from a parent the weights must be for exact hits to count as a merge. A
 * lightly trained fine-tune of one parent reproduces many elements near weight 0; its
 * fitted weight wanders up to ~0.015 from 0 (profile) or is pulled ~0.01 (least squares
 * in the few-step regime) on the data of test/fit. 0.05 keeps three times that margin.
 */
export const MERGE_PEAK_MIN_WEIGHT = 0.05;

/**
 * What replaying the candidate recipes measured on a tensor (partial/tensor-recipes.ts),
 * for the best candidate; given only where the replay is exact (a 16-bit grid).
 */
export interface ReplayEvidence {
  /** Replayed elements where some parent differs from another. */
  parentsDiffer: number;
  /** Of those, the most any candidate reproduced bit for bit. */
  reproduced: number;
  /** That candidate's coefficient per parent (--parents order). */
  weights: readonly number[];
}

/**
 * A recipe that recomputes this share of the elements where the parents differ, bit for
 * bit, is the recipe: no training leaves > 99.9% of a tensor's changed elements on the
 * grid points one formula predicts. Whatever the residual of the weighted-sum fit (a
 * mergekit SLERP, whose coefficients do not sum to 1, reads 2.7–3.8σ), it is a `blend`.
 */
export const REPLAY_EXACT_SHARE = 0.999;

/**
 * An untouched merge replayed in its own arithmetic reproduces > 99.9% of the elements
 * where the parents differ (every merge fixture, every arithmetic); a blend trained by
 * 0.04–0.08% of its norm after merging, still at 0.99σ, reproduces 78–89% per tensor
 * under the best recipe (fixtures/blend-lightly-trained; statistics.md measured ~73%
 * after 5 small steps). 0.95 keeps that fixture's best tensor 6 points below and the
 * untouched merges 5 above. Below REPLAY_MIN_ELEMENTS a share is too coarse to judge.
 */
export const REPLAY_MIN_SHARE = 0.95;
export const REPLAY_MIN_ELEMENTS = 200;
/** The replayed recipes are weighted sums of the parents: judged only where the fit is one (weights summing to 1). */
const REPLAY_WEIGHT_SUM_TOLERANCE = 0.01;

export function tensorVerdict(fit: TensorEvidence, thresholds: Thresholds, replay: ReplayEvidence | null = null): TensorVerdict {
  const used = fit.elements - fit.nonFinite;
  if (used <= 0) return { kind: 'inconclusive', parent: null, reason: 'no-finite-elements' };

  const identicalTo = fit.equalShare.findIndex((share) => share === 1);
  if (identicalTo >= 0) return { kind: 'identical', parent: identicalTo, reason: null };

  const unexplained =
    fit.relativeResidual === null ? fit.rss > 0 : fit.relativeResidual >= thresholds.unrelatedResidual;
  if (unexplained) return { kind: 'unrelated', parent: null, reason: null };

  if (replayedExactly(replay, thresholds)) return { kind: 'blend', parent: null, reason: null };

  const atFloor = fit.noiseRatio <= thresholds.blendMaxNoise;
  if (fit.weights.some((weight) => weight === null)) {
    if (atFloor) return { kind: 'blend', parent: null, reason: null };
    // Parents bit-identical here: there is one parent to judge against, and a residual
    // above the floor is a change to it (statistics.md: "still judge the residual").
    if (fit.identifiability.reason === 'parents-identical') return { kind: 'derived', parent: 0, reason: null };
    return { kind: 'inconclusive', parent: null, reason: 'weights-not-identifiable' };
  }
  const weights = fit.weights as number[];
  const heaviest = indexOfMax(weights);

  if (atFloor) {
    const mixedIn = weights.filter((weight) => Math.abs(weight) >= thresholds.minWeight).length;
    if (mixedIn < 2) return { kind: 'derived', parent: heaviest, reason: null };
    return notReproduced(weights, replay) ? { kind: 'modified-blend', parent: null, reason: null } : { kind: 'blend', parent: null, reason: null };
  }

  const secondWeight = weights.filter((_, j) => j !== heaviest).reduce((a, b) => Math.max(a, b), -Infinity);
  const substantialSecondParent = secondWeight >= thresholds.modifiedMinWeight;
  const mergePeak =
    fit.profile !== null &&
    aboveChance(fit.profile) &&
    fit.reproducedShare !== null &&
    fit.reproducedShare >= PEAK_MIN_SHARE &&
    weights.every((weight) => Math.abs(weight) >= Math.max(thresholds.minWeight, MERGE_PEAK_MIN_WEIGHT));
  return substantialSecondParent || mergePeak
    ? { kind: 'modified-blend', parent: null, reason: null }
    : { kind: 'derived', parent: heaviest, reason: null };
}

/** A recipe mixing two or more parents recomputes the tensor bit for bit (see REPLAY_EXACT_SHARE). */
function replayedExactly(replay: ReplayEvidence | null, thresholds: Thresholds): boolean {
  if (replay === null || replay.parentsDiffer < REPLAY_MIN_ELEMENTS) return false;
  const mixedIn = replay.weights.filter((weight) => Math.abs(weight) >= thresholds.minWeight).length;
  return mixedIn >= 2 && replay.reproduced >= REPLAY_EXACT_SHARE * replay.parentsDiffer;
}

/** The replay says no weighted-sum recipe explains the tensor bit for bit (see REPLAY_MIN_SHARE). */
function notReproduced(weights: readonly number[], replay: ReplayEvidence | null): boolean {
  if (replay === null || replay.parentsDiffer < REPLAY_MIN_ELEMENTS) return false;
  const sum = weights.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > REPLAY_WEIGHT_SUM_TOLERANCE) return false;
  return replay.reproduced < REPLAY_MIN_SHARE * replay.parentsDiffer;
}

function indexOfMax(values: readonly number[]): number {
  let best = 0;
  for (let j = 1; j < values.length; j++) if (values[j]! > values[best]!) best = j;
  return best;
}
