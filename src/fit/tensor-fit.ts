import type { TensorMoments } from '../engine/moments.js';
import type { FitReport, Identifiability, TensorReport, WeightMethod } from '../report-schema.js';
import { PROFILE_TRUSTED_SHARE, readProfile } from './exact-hit-profile.js';
import { residualSumOfSquares, solveNormalEquations, type NormalEquationsSolution } from './normal-equations.js';

/** Everything of a TensorReport that follows from the moments alone. */
export type TensorFit = Omit<
  TensorReport,
  'name' | 'shape' | 'dtype' | 'parentDtypes' | 'component' | 'layer' | 'kind' | 'parent' | 'reason'
>;

/**
 * Informative least squares needs this many informative elements per fitted weight.
 * Below it the estimate is dominated by a few elements (20 per weight puts the
 * relative standard error of a weight near 1/√20 of the residual's relative size at
 * worst), and plain least squares over all elements is reported instead, flagged.
 */
export const MIN_INFORMATIVE_PER_WEIGHT = 20;

/**
 * Fits of one tensor (statistics.md, "The fits"), pure function of its moments.
 *
 * The blend weights (`weightMethod`), in order of preference:
 * - 'exact-hit-profile' (two parents): the profile's peak, when it is clear and either
 *   trusted outright or beats the informative least-squares weight
 *   (src/fit/exact-hit-profile.ts says when, and why);
 * - 'informative-least-squares': least squares over the informative elements, when
 *   there are MIN_INFORMATIVE_PER_WEIGHT per weight and they see as many directions as
 *   all elements do; the only estimate for three parents or more;
 * - 'least-squares': over all elements, biased toward a parent when parents differ by
 *   few steps; used only when nothing better is possible, and so flagged.
 * rss, noiseRatio, z, explained and relativeResidual are then evaluated over all used
 * elements at those weights. Standard errors come from the elements that estimated the
 * weights (the informative ones for the profile, which has no error of its own).
 * `reproducedShare` is read off the profile at the reported weight (two parents only).
 *
 * Where the suspect's format has no measurable rounding noise (floor == 0: no used
 * elements, or an F64 suspect whose ulp² underflows), ratios are defined as:
 * noiseRatio 0 and z 0 when rss == 0 (nothing left to explain), Infinity when
 * rss > 0 (a residual where no rounding noise is possible). Shares over zero elements
 * are 0, `explained` is null when ‖e‖² == 0 and `relativeResidual` when ‖s‖² == 0.
 */
export function fitTensor(moments: TensorMoments): TensorFit {
  return fitMoments(moments, true);
}

/**
 * What an expert slice's report and its verdict read of a fit (partial/tensor-reports.ts
 * sliceReport, verdict/tensor-verdict.ts), and no more: `fitTensor`'s weights, residual,
 * profile and shares, equal to its, without the standard errors, the least-squares
 * block, the alternatives and the free fit. A fused tensor has hundreds of slices, each
 * fitted on its own, and those parts were about a third of a slice's fit.
 */
export function fitSlice(moments: TensorMoments): TensorEvidence {
  return fitMoments(moments, false);
}

/** The facts a tensor verdict reads (verdict/tensor-verdict.ts): a TensorFit, a slice's fit or a whole TensorReport. */
export type TensorEvidence = Pick<
  TensorFit,
  'elements' | 'nonFinite' | 'equalShare' | 'relativeResidual' | 'rss' | 'noiseRatio' | 'weights' | 'identifiability' | 'profile' | 'reproducedShare'
>;

function fitMoments(moments: TensorMoments, full: true): TensorFit;
function fitMoments(moments: TensorMoments, full: false): TensorEvidence;
function fitMoments(moments: TensorMoments, full: boolean): TensorFit | TensorEvidence {
  const k = moments.parents;
  const stride = k + 1;
  const target = k;
  const gram = moments.gram;
  // Gram index q (1 … k−1) holds d for the q-th parent other than the reference.
  const others: number[] = [];
  for (let j = 0; j < k; j++) if (j !== moments.reference) others.push(j);
  const differences = others.map((_, q) => q + 1);
  const used = moments.used;
  const floor = moments.floor;
  const floorVar = moments.floorVar;

  const all = solveNormalEquations(gram, stride, differences, target, floor);
  const identifiability = identifiabilityOf(moments, all, k);

  const informativeGram = moments.informative.gram;
  const informativeCount = moments.informative.count;
  const informative = solveNormalEquations(informativeGram, stride, differences, target, moments.informative.floor);
  const informativeUsable =
    k >= 2 &&
    informativeCount >= MIN_INFORMATIVE_PER_WEIGHT * (k - 1) &&
    informative.rank === all.rank &&
    all.rank > 0;

  const reading = readProfile(moments);
  const profile = reading?.summary ?? null;
  const profileUsable =
    k === 2 &&
    reading !== null &&
    reading.clear &&
    all.rank === 1 &&
    (reading.summary.hitShare >= PROFILE_TRUSTED_SHARE ||
      !informativeUsable ||
      reading.beats(informative.coefficients[0]!));

  let weightMethod: WeightMethod;
  let beta: Float64Array;
  // The estimating set: its solution (for identifiability and covariance), its residual and size.
  let estimate: { solution: NormalEquationsSolution; rss: number; n: number };
  // Without standard errors (`full` false) the estimating set's residual is not needed:
  // no elements leave no degrees of freedom, and blendWeights then gives every error as
  // null and the same weights (which exist by identifiability alone).
  const informativeEstimate = (): typeof estimate => ({
    solution: informative,
    rss: full ? residualSumOfSquares(informativeGram, stride, differences, target, informative.coefficients) : 0,
    n: full ? informativeCount : 0,
  });
  if (profileUsable) {
    weightMethod = 'exact-hit-profile';
    beta = Float64Array.of(reading.summary.peak);
    // The profile has no standard error of its own; the informative least-squares
    // error, from the same elements, is the honest stand-in (the peak is at least as
    // precise wherever the profile is sharp).
    estimate = informativeEstimate();
  } else if (informativeUsable) {
    weightMethod = 'informative-least-squares';
    beta = informative.coefficients;
    estimate = informativeEstimate();
  } else {
    weightMethod = 'least-squares';
    beta = all.coefficients;
    estimate = full
      ? { solution: all, rss: residualSumOfSquares(gram, stride, differences, target, all.coefficients), n: used }
      : { solution: all, rss: 0, n: 0 };
  }
  // Which weights exist is decided by the elements that estimated them; the profile
  // peak is a weight of the whole tensor, identifiable as the all-element block says.
  const identifiedBy = weightMethod === 'informative-least-squares' ? informative : all;
  const { weights, stdErr } = blendWeights(
    k,
    moments.reference,
    others,
    beta,
    identifiedBy,
    estimate.solution,
    estimate.rss,
    estimate.n,
  );

  if (weightMethod === 'exact-hit-profile' && profile) {
    // Every weight on the top plateau reproduces as many elements as the peak: the
    // peak is only known to lie on it, uniformly as far as the profile can tell
    // (variance width²/12). With parents a few ulps apart the plateau is wide and this
    // term dominates; the least-squares term alone would claim far too much precision.
    const plateauVariance = (profile.plateau * profile.plateau) / 12;
    for (let j = 0; j < k; j++) {
      const se = stdErr[j];
      if (se !== null && se !== undefined) stdErr[j] = Math.sqrt(se * se + plateauVariance);
    }
  }

  const rss = residualSumOfSquares(gram, stride, differences, target, beta);
  const changeNorm2 = gram[target * stride + target]!;
  const suspectNorm2 = Math.max(0, gram[0]! + 2 * gram[target]! + changeNorm2);
  const equalShare: number[] = [];
  for (let j = 0; j < k; j++) equalShare.push(used > 0 ? moments.equal[j]! / used : 0);
  const noiseRatio = noiseRatioOf(rss, floor);
  const relativeResidual = suspectNorm2 > 0 ? Math.sqrt(rss / suspectNorm2) : null;
  const reproduced = reproducedShare(reading, weights, others);
  if (!full) {
    return { elements: moments.elements, nonFinite: moments.nonFinite, equalShare, relativeResidual, rss, noiseRatio, weights, identifiability, profile, reproducedShare: reproduced };
  }

  const lsRss = residualSumOfSquares(gram, stride, differences, target, all.coefficients);
  const ls = blendWeights(k, moments.reference, others, all.coefficients, all, all, lsRss, used);
  const leastSquares: FitReport = {
    weights: ls.weights,
    stdErr: ls.stdErr,
    rss: lsRss,
    noiseRatio: noiseRatioOf(lsRss, floor),
    z: zOf(lsRss, floor, floorVar),
  };

  const alternatives: number[] = [];
  for (let j = 0; j < k; j++) {
    const q = others.indexOf(j) + 1;
    const distance2 =
      q === 0
        ? changeNorm2
        : Math.max(0, changeNorm2 - 2 * gram[q * stride + target]! + gram[q * stride + q]!);
    alternatives.push(noiseRatioOf(distance2, floor));
  }

  return {
    elements: moments.elements,
    nonFinite: moments.nonFinite,
    weights,
    weightsStdErr: stdErr,
    weightMethod,
    noiseRatio,
    z: zOf(rss, floor, floorVar),
    explained: changeNorm2 > 0 ? 1 - rss / changeNorm2 : null,
    relativeResidual,
    alternatives,
    freeFit: freeFit(moments, others, floor),
    leastSquares,
    equalShare,
    informative: informativeCount,
    profile,
    reproducedShare: reproduced,
    identifiability,
    floor,
    rss,
    // Set by the recipe pass (partial/tensor-recipes.ts) when it runs, on a copy made by
    // spread: with the slot already here, the copy and the setting keep one hidden class
    // for every fit (Object.assign into {}, as extended() does, left ~20 fields in a
    // dictionary, slow to stringify). JSON leaves it out while unset.
    rssMethod: undefined,
  };
}

/**
 * Share of informative elements the reported weights reproduce bit for bit, read off
 * the exact-hit profile at the reported weight (two parents; the bin centre nearest
 * it). Equals the profile's hitShare when the weights are the peak. Null without a
 * profile, or with the weight unknown or outside the profile's range.
 */
function reproducedShare(
  reading: ReturnType<typeof readProfile>,
  weights: readonly (number | null)[],
  others: readonly number[],
): number | null {
  if (reading === null || others.length !== 1) return null;
  const weight = weights[others[0]!];
  if (weight === null || weight === undefined) return null;
  const hits = reading.hitsAt(weight);
  return hits === null ? null : hits / reading.summary.informative;
}

function identifiabilityOf(moments: TensorMoments, all: NormalEquationsSolution, k: number): Identifiability {
  const full = k - 1;
  // With no used element nothing is seen: vacuously, every parent agrees everywhere.
  if (moments.used === 0 || (full > 0 && moments.parentsEqual === moments.used)) {
    return { identifiable: false, rank: 0, conditionNumber: Infinity, reason: 'parents-identical' };
  }
  if (all.rank < full) {
    return { identifiable: false, rank: all.rank, conditionNumber: Infinity, reason: 'parents-collinear' };
  }
  return { identifiable: true, rank: all.rank, conditionNumber: all.conditionNumber, reason: null };
}

/**
 * Parent weights from the difference coefficients β (reference: 1 − Σβ) with their
 * standard errors: σ² = rss/(n − rank), Cov = σ²(DᵀD)⁺, so var(β_j) = σ²·e_jᵀ(DᵀD)⁺e_j
 * and the reference's var(−Σβ) = σ²·1ᵀ(DᵀD)⁺1. A weight the data cannot determine is
 * null, and so is every standard error when n ≤ rank (no degrees of freedom left).
 */
function blendWeights(
  k: number,
  reference: number,
  others: readonly number[],
  beta: Float64Array,
  identifiedBy: NormalEquationsSolution,
  covarianceFrom: NormalEquationsSolution,
  rss: number,
  n: number,
): { weights: (number | null)[]; stdErr: (number | null)[] } {
  const p = others.length;
  const dof = n - covarianceFrom.rank;
  const sigma2 = dof > 0 ? rss / dof : null;
  const weights: (number | null)[] = new Array<number | null>(k).fill(null);
  const stdErr: (number | null)[] = new Array<number | null>(k).fill(null);
  const setWeight = (parent: number, c: Float64Array, value: number): void => {
    if (!identifiedBy.identifiable(c)) return;
    weights[parent] = value;
    if (sigma2 !== null && covarianceFrom.identifiable(c)) {
      stdErr[parent] = Math.sqrt(sigma2 * covarianceFrom.unitVariance(c));
    }
  };
  let sum = 0;
  for (let q = 0; q < p; q++) {
    sum += beta[q]!;
    const unit = new Float64Array(p);
    unit[q] = 1;
    setWeight(others[q]!, unit, beta[q]!);
  }
  setWeight(reference, new Float64Array(p).fill(-1), 1 - sum);
  return { weights, stdErr };
}

/**
 * s ≈ γ r + Σ β_j d_j, unconstrained, over all elements. Solved for e = s − r on
 * [r, D] (coefficients γ − 1 and β): the residual then cancels against ‖e‖², not
 * against ‖s‖², which for an F32 suspect would leave nothing of rss but rounding.
 */
function freeFit(moments: TensorMoments, others: readonly number[], floor: number): TensorFit['freeFit'] {
  const k = moments.parents;
  const stride = k + 1;
  const columns = [0, ...others.map((_, q) => q + 1)];
  const solution = solveNormalEquations(moments.gram, stride, columns, k);
  const c = solution.coefficients;
  const rss = residualSumOfSquares(moments.gram, stride, columns, k, c);
  const weights: (number | null)[] = new Array<number | null>(k).fill(null);
  let betaSum = 0;
  for (let q = 0; q < others.length; q++) {
    betaSum += c[q + 1]!;
    const unit = new Float64Array(k);
    unit[q + 1] = 1;
    if (solution.identifiable(unit)) weights[others[q]!] = c[q + 1]!;
  }
  const referenceFunctional = new Float64Array(k).fill(-1);
  referenceFunctional[0] = 1;
  if (solution.identifiable(referenceFunctional)) weights[moments.reference] = 1 + c[0]! - betaSum;
  const sumFunctional = new Float64Array(k);
  sumFunctional[0] = 1;
  const sum = solution.identifiable(sumFunctional) && moments.used > 0 ? 1 + c[0]! : null;
  return { weights, sum, noiseRatio: noiseRatioOf(rss, floor) };
}

/** sqrt(rss/floor); 0 when nothing is left, Infinity for a residual where no rounding noise is possible. */
export function noiseRatioOf(rss: number, floor: number): number {
  if (rss === 0) return 0;
  return floor > 0 ? Math.sqrt(rss / floor) : Infinity;
}

/** (rss − floor)/sqrt(floorVar), with the same conventions as noiseRatioOf when floorVar underflows. */
export function zOf(rss: number, floor: number, floorVar: number): number {
  if (floorVar > 0) return (rss - floor) / Math.sqrt(floorVar);
  return rss > floor ? Infinity : 0;
}
