import { ulpOf, type FloatFormat } from '../../format/dtype.js';
import { roundToFormat, type MergeArithmetic, type MergeRecipe } from '../../engine/recipes/merge-arithmetic.js';

/**
 * Candidate recipes for exact reconstruction, from fitted weights.
 *
 * People type short decimals into merge configs (0.6, 0.35, 0.125), and a tool working
 * in bf16 then really uses the bf16 value nearest each (0.6 → 0.6015625). A fit lands
 * within a few standard errors of the weights really used, which for a bf16 merge can
 * be up to half a bf16 step (2⁻⁹ near 0.6) from the typed decimal. So each weight is
 * snapped to the short decimals within a window (below), and to the format's values
 * next to it (for a merge done in float32 with weights someone already rounded).
 */

/** Denominators of "short decimals", coarsest first: tenths, twentieths, hundredths, two-hundredths, thousandths. */
export const DECIMAL_DENOMINATORS = [10, 20, 100, 200, 1000] as const;

export interface RecipeCandidate extends MergeRecipe {
  /** Decimal digits of the longest weight, null when some weight is a format value or the raw fit. */
  readonly digits: number | null;
  /** Where the candidate comes from. */
  readonly origin: 'fitted' | 'decimal' | 'format-value';
}

/** x with float64 noise of decimal arithmetic (1 − 0.7 = 0.30000000000000004) removed. */
function tidy(x: number): number {
  const r = Math.round(x * 1e9) / 1e9;
  return Math.abs(r - x) < 1e-12 ? r : x;
}

function decimalDigits(x: number): number {
  for (let digits = 0; digits <= 9; digits++) {
    const scale = 10 ** digits;
    if (Math.abs(Math.round(x * scale) / scale - x) < 1e-12) return digits;
  }
  return 10;
}

/**
 * Recipes to replay, the fitted weights themselves first. `weights` are one per parent
 * (--parents order); a null weight (not identifiable) yields an empty list.
 *
 * Weight vectors, deduplicated:
 * - per decimal precision (tenths … thousandths): every weight but the largest rounded
 *   down or up to that precision and the largest taking the rest, so the vector sums to
 *   1 (a blend); and, when the fitted weights do not sum to 1 within the window, every
 *   weight rounded on its own (SLERP coefficients, task-arithmetic scales). A vector is
 *   kept only when every weight is within the window of its fit, so a precision too
 *   coarse for the data proposes nothing. The window, max(5·stdErr, two format steps,
 *   0.012), is wide because fits are biased where parents differ by few steps: an
 *   exact-hit peak can sit on a resonant weight (a bf16 merge at 0.88/0.12 of parents
 *   6 steps apart peaks at 0.875/0.125), and with candidates that are not in the mix
 *   fixtures/blend-small-delta's 0.4 reads 0.407;
 * - the format's value nearest each weight (the largest again taking the rest), and
 *   each other weight one format step up or down.
 * Decimal vectors are replayed under every arithmetic, format-value vectors under the
 * two that keep weights as given (float64 and float32).
 */
export function snapCandidates(
  weights: readonly (number | null)[],
  stdErr: readonly (number | null)[],
  format: FloatFormat,
): RecipeCandidate[] {
  if (weights.length === 0 || weights.some((w) => w === null || !Number.isFinite(w))) return [];
  const w = weights as number[];
  const k = w.length;
  const window = w.map((x, j) => Math.max(5 * (stdErr[j] ?? 0), 2 * ulpOf(format, x), 0.012));
  let largest = 0;
  for (let j = 1; j < k; j++) if (w[j]! > w[largest]!) largest = j;
  const fittedSum = w.reduce((a, b) => a + b, 0);
  const sumWindow = window.reduce((a, b) => a + b, 0);

  const vectors = new Map<string, { vector: number[]; digits: number | null }>();
  const add = (vector: number[], digits: number | null): void => {
    if (!vector.every((x, j) => Math.abs(x - w[j]!) <= window[j]!)) return;
    const key = vector.join(',');
    if (!vectors.has(key)) vectors.set(key, { vector, digits });
  };
  const completed = (vector: number[]): number[] => {
    let rest = 1;
    for (let j = 0; j < k; j++) if (j !== largest) rest -= vector[j]!;
    vector[largest] = tidy(rest);
    return vector;
  };
  const digitsOf = (vector: number[]): number => Math.max(...vector.map(decimalDigits));

  // Both neighbours at each precision (0.125 is as near 0.12 as 0.13) while that keeps
  // the combinations few (three parents or fewer), else the nearest.
  const both = k <= 3;
  for (const den of DECIMAL_DENOMINATORS) {
    const choices = w.map((x) => [...new Set(both ? [Math.floor(x * den), Math.ceil(x * den)] : [Math.round(x * den)])].map((q) => tidy(q / den)));
    const combine = (j: number, vector: number[]): void => {
      if (j === k) {
        const blend = completed(vector.slice());
        add(blend, digitsOf(blend));
        if (Math.abs(fittedSum - 1) > sumWindow) add(vector, digitsOf(vector));
        return;
      }
      for (const value of choices[j]!) combine(j + 1, [...vector, value]);
    };
    combine(0, []);
  }
  const nearest = w.map((x) => roundToFormat(format, x));
  add(completed(nearest.slice()), null);
  for (let j = 0; j < k; j++) {
    if (j === largest) continue;
    for (const direction of [-1, 1]) {
      const moved = nearest.slice();
      moved[j] = nearest[j]! + direction * ulpOf(format, nearest[j]!);
      add(completed(moved), null);
    }
  }
  if (Math.abs(fittedSum - 1) > sumWindow) add(nearest, null);

  const candidates: RecipeCandidate[] = [
    { weights: w.slice(), arithmetic: 'exact-once', normalise: false, digits: null, origin: 'fitted' },
  ];
  for (const { vector, digits } of vectors.values()) {
    // The fit itself may already be a short decimal (a profile peak at 0.6): one candidate.
    const isFit = vector.every((x, j) => x === w[j]);
    const origin = digits === null || digits > 3 ? 'format-value' : 'decimal';
    const arithmetics: MergeArithmetic[] =
      origin === 'decimal' ? ['exact-once', 'float32', 'torch-in-dtype', 'format-steps'] : ['exact-once', 'float32'];
    for (const arithmetic of arithmetics) {
      if (isFit && arithmetic === 'exact-once') {
        candidates[0] = { ...candidates[0]!, digits: origin === 'decimal' ? digits : null, origin };
        continue;
      }
      candidates.push({
        weights: vector,
        arithmetic,
        // mergekit's linear divides by the weight sum: a no-op for a sum of 1 in exact arithmetic, not always in bf16.
        normalise: arithmetic === 'torch-in-dtype',
        digits: origin === 'decimal' ? digits : null,
        origin,
      });
    }
  }
  return candidates;
}
