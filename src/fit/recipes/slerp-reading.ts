import type { TensorMoments } from '../../engine/moments.js';
import type { FloatFormat } from '../../format/dtype.js';
import { solveNormalEquations } from '../normal-equations.js';
import { MIN_INFORMATIVE_PER_WEIGHT } from '../tensor-fit.js';
import { roundTo } from '../../format/dtype.js';

/**
 * SLERP or linear? For two parents p0, p1 (--parents order), mergekit's
 * slerp(t, p0, p1) = c0·p0 + c1·p1 with c0 = sin((1 − t)θ)/sin θ, c1 = sin(tθ)/sin θ
 * and θ the angle between the tensors. Its coefficients do not sum to 1 but to
 * cos((t − ½)θ)/cos(θ/2) > 1; a linear blend's sum to exactly 1. So the free fit
 * s ≈ c0·p0 + c1·p1 tells them apart — when θ is large enough for the difference to
 * exceed the fit's uncertainty. Fine-tunes of one base are nearly parallel (θ of a
 * few thousandths), and then no data can separate the two: the reading says so by
 * listing every recipe consistent with the sum.
 *
 * A third reading matters in practice: mergekit's `linear` in bf16 uses the typed
 * weights rounded to bf16 (0.4 + 0.6 → 0.400390625 + 0.6015625 = 1.001953125), and
 * divides by their bf16 sum, which rounds to 1, so the coefficients really sum to
 * 1.001953125. That is `linear-format-weights`, for the two-decimal weight nearest the
 * fit. Exact reconstruction then decides among what remains.
 */
export const RECIPE_HYPOTHESES = ['linear', 'linear-format-weights', 'slerp'] as const;
export type RecipeHypothesis = (typeof RECIPE_HYPOTHESES)[number];

/**
 * A hypothesis is consistent when the fitted sum is within this many standard errors
 * (plus GRID_BIAS_SHARE below) of what it predicts. The standard error assumes independent residuals; rounding
 * noise that correlates with the parents (parents a few steps apart) makes it a little
 * optimistic, so the bar is set higher than a plain 2–3σ test.
 */
export const SUM_CONSISTENCY_Z = 5;

/**
 * Rounding is not independent of the parents when the blend's coefficients put the
 * exact values at fixed places of the suspect's grid, and then it biases the fitted
 * sum by a share of the format's relative step: measured on fixtures/recipes/
 * slerp-gradient (t = 0.5, c0 = c1 = 0.50196: the exact blend sits half a step off
 * the grid), the sum comes out 2.2e-4 above the true one at 1.3e-5 standard error.
 * So a hypothesis is consistent when the sum is within Z·stdErr + this share of
 * 2^−mantissaBits (bf16: 2⁻¹¹ = 4.9e-4) of its prediction.
 */
export const GRID_BIAS_SHARE = 1 / 8;

export interface SlerpReading {
  /** Angle between the two parents' tensors, radians. */
  angle: number;
  /** Free-fit coefficients s ≈ c0·p0 + c1·p1. */
  coefficients: [number, number];
  sum: number;
  sumStdErr: number;
  /** SLERP's t (weight toward p1) that gives these coefficients' ratio: atan2(c1 sin θ, c0 + c1 cos θ)/θ; the linear weight c1/(c0 + c1) when θ = 0. */
  t: number;
  /** Sum of the coefficients SLERP predicts at that t. */
  slerpSum: number;
  /** Sum `linear-format-weights` predicts, or null for a float32/float64 suspect. */
  formatWeightsSum: number | null;
  /** Hypotheses whose predicted sum is within SUM_CONSISTENCY_Z standard errors, in RECIPE_HYPOTHESES order. */
  consistent: RecipeHypothesis[];
  /** How far a prediction may be from the fitted sum and still be consistent: Z·stdErr + the grid bias. */
  tolerance: number;
  /** |slerpSum − 1| / tolerance: at 2 or below, SLERP and linear cannot be told apart on this tensor. */
  separation: number;
}

/**
 * The SLERP reading of a two-parent tensor, from its moments. The free fit uses the
 * informative elements when there are enough (parents a few steps apart bias least
 * squares over all elements), else all. Null without two parents or with a singular fit.
 */
export function readSlerp(moments: TensorMoments, format: FloatFormat): SlerpReading | null {
  if (moments.parents !== 2) return null;
  const useInformative = moments.informative.count >= MIN_INFORMATIVE_PER_WEIGHT * 2;
  const gram = useInformative ? moments.informative.gram : moments.gram;
  const n = useInformative ? moments.informative.count : moments.used;
  const stride = 3;
  const rr = moments.gram[0]!;
  const rd = moments.gram[1]!;
  const dd = moments.gram[stride + 1]!;
  const solution = solveNormalEquations(gram, stride, [0, 1], 2);
  if (solution.rank < 2 || n <= 2 || rr <= 0) return null;
  const [gammaMinusOne, beta] = solution.coefficients as unknown as [number, number];
  const gamma = 1 + gammaMinusOne;
  // s = γ·r + β·d = (γ − β)·p_ref + β·p_other.
  const other = 1 - moments.reference;
  const coefficients: [number, number] = other === 1 ? [gamma - beta, beta] : [beta, gamma - beta];
  const rss = residual(gram, stride, solution.coefficients);
  const sumStdErr = Math.sqrt((rss / (n - 2)) * solution.unitVariance([1, 0]));

  // sin θ ∝ sqrt(det of the Gram of r and d), stable for nearly parallel parents.
  const angle = Math.atan2(Math.sqrt(Math.max(0, rr * dd - rd * rd)), rr + rd);
  const [c0, c1] = coefficients;
  const t = angle > 0 ? Math.atan2(c1 * Math.sin(angle), c0 + c1 * Math.cos(angle)) / angle : c1 / (c0 + c1);
  const slerpSum = Math.cos((t - 0.5) * angle) / Math.cos(angle / 2);

  let formatWeightsSum: number | null = null;
  if (format.bytes === 2) {
    const w1 = Math.round((c1 / (c0 + c1)) * 100) / 100;
    const rounded = [roundTo(format, 1 - w1), roundTo(format, w1)];
    const normaliser = roundTo(format, Math.fround(rounded[0]! + rounded[1]!));
    formatWeightsSum = (rounded[0]! + rounded[1]!) / normaliser;
  }

  const tolerance = SUM_CONSISTENCY_Z * sumStdErr + GRID_BIAS_SHARE * 2 ** -format.mantissaBits;
  const within = (predicted: number): boolean => Math.abs(gamma - predicted) <= tolerance;
  const consistent: RecipeHypothesis[] = [];
  if (within(1)) consistent.push('linear');
  if (formatWeightsSum !== null && formatWeightsSum !== 1 && within(formatWeightsSum)) consistent.push('linear-format-weights');
  if (within(slerpSum)) consistent.push('slerp');
  return {
    angle,
    coefficients,
    sum: gamma,
    sumStdErr,
    t,
    slerpSum,
    formatWeightsSum,
    consistent,
    tolerance,
    separation: Math.abs(slerpSum - 1) / tolerance,
  };
}

function residual(gram: Float64Array, stride: number, c: Float64Array): number {
  const [a, b] = [c[0]!, c[1]!];
  const value =
    gram[2 * stride + 2]! -
    2 * (a * gram[2]! + b * gram[stride + 2]!) +
    a * a * gram[0]! +
    2 * a * b * gram[1]! +
    b * b * gram[stride + 1]!;
  return Math.max(0, value);
}
