import { aboveChance, PEAK_MIN_SHARE } from '../fit/exact-hit-profile.js';
import type { TensorFit } from '../fit/tensor-fit.js';
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

/** The facts a tensor verdict reads: a TensorFit, or a whole TensorReport. */
export type TensorEvidence = Pick<
  TensorFit,
    | 'elements'
  | 'nonFinite'
  | 'equalShare'
  | 'relativeResidual'
  | 'rss'
  | 'noiseRatio'
  | 'weights'
  | 'identifiability'
  | 'profile'
  | 'reproducedShare'
>;

/**
 * One tensor's kind (statistics.md, "Verdict kinds"), decided in this order:
 *
 * 1. no used element → inconclusive (no-finite-elements);
 * 2. every used element bit-equal to parent j → identical to j (the first such parent).
 *    Non-finite elements are excluded from the moments, so they are not compared: the
 *    report carries their count next to the kind;
 * 3. relativeResidual ≥ unrelatedResidual (or a residual on an all-zero suspect) → unrelated;
 * 4. some weight not identifiable: at the floor → blend (a blend whose split between
 *    the indistinguishable parents is unknown), above it → inconclusive;
 * 5. at the floor (noiseRatio ≤ blendMaxNoise): ≥ 2 parents with |weight| ≥ minWeight →
 *    blend (negative weights count: at the floor an extrapolation such as task
 *    arithmetic is as much a linear combination as an interpolation); otherwise the
 *    suspect is one parent re-rounded → derived from the heaviest parent;
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

export function tensorVerdict(fit: TensorEvidence, thresholds: Thresholds): TensorVerdict {
  const used = fit.elements - fit.nonFinite;
  if (used <= 0) return { kind: 'inconclusive', parent: null, reason: 'no-finite-elements' };

  const identicalTo = fit.equalShare.findIndex((share) => share === 1);
  if (identicalTo >= 0) return { kind: 'identical', parent: identicalTo, reason: null };

  const unexplained =
    fit.relativeResidual === null ? fit.rss > 0 : fit.relativeResidual >= thresholds.unrelatedResidual;
  if (unexplained) return { kind: 'unrelated', parent: null, reason: null };

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
    return mixedIn >= 2
      ? { kind: 'blend', parent: null, reason: null }
      : { kind: 'derived', parent: heaviest, reason: null };
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

function indexOfMax(values: readonly number[]): number {
  let best = 0;
  for (let j = 1; j < values.length; j++) if (values[j]! > values[best]!) best = j;
  return best;
}
