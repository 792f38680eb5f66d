import { extended } from '../../object-shape.js';
import { roundTo, ulpOf, type FloatFormat } from '../../format/dtype.js';
import { recipeKey, type MergeArithmetic, type MergeRecipe } from '../../engine/recipes/merge-arithmetic.js';
import type { SlerpReading } from './slerp-reading.js';

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
 * Candidates replayed per tensor at most: each costs a replay of 8,192 elements a tensor
 * (2–7 ns an element, `npm run bench:kernel`), so the list is cut, least likely last: the raw
 * fit, the model's recipe (when given: SnapContext.modelWeights), SLERP or task arithmetic where the fit suggests them, the
 * tensor's own decimals coarsest first, then format values.
 */
export const MAX_CANDIDATES = 30;

/** What besides a tensor's own fit decides its candidates. */
export interface SnapContext {
  /**
   * The model's weights (element-weighted mean over identifiable tensors), snapped too,
   * so that every tensor replays the model's recipe and not only the neighbours of its
   * own fit (a small or noisy tensor's fit can be further from the typed weights than
   * the window). Used even when the tensor's own weights are not identifiable. Not
   * passed by the analysis yet: it replays each tensor as its fit is done, before the
   * model's weights exist (docs/forensics.md); tests pass it.
   */
  modelWeights?: readonly number[] | null;
  /** The --base index: task arithmetic over it is proposed when the task weights do not sum to 1. */
  base?: number | null;
  /** Two parents: the tensor's SLERP reading; SLERP is proposed at its t when its sum is consistent with SLERP. */
  slerp?: SlerpReading | null;
}

/**
 * Recipes to replay, the fitted weights themselves first. `weights` are one per parent
 * (--parents order); with a null weight (not identifiable) only the model's recipe is
 * proposed, and nothing without `context.modelWeights`.
 *
 * Weighted sums, deduplicated:
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
 *
 * Recipes of other methods (merge-arithmetic.ts, MERGE_METHODS), at the decimal nearest
 * their parameter at each precision within the window:
 * - SLERP (two parents), in mergekit's float32 steps, when the reading counts SLERP
 *   consistent with the fitted coefficient sum: at the t it reads, and at the t of the
 *   model's weights on this tensor's angle;
 * - task arithmetic over `base`, in float32 and in the suspect's dtype, when the base's
 *   fitted weight is not 0 within its window (the task weights do not sum to 1): at
 *   the fitted λ and at the model's.
 * The model's weighted sums take the nearest decimal of each precision (within 0.012
 * of the model's weights). At most MAX_CANDIDATES, in the order above.
 */
export function snapCandidates(
  weights: readonly (number | null)[],
  stdErr: readonly (number | null)[],
  format: FloatFormat,
  context: SnapContext = {},
): RecipeCandidate[] {
  const finite = (v: readonly (number | null)[] | null | undefined): v is number[] =>
    v !== null && v !== undefined && v.length > 0 && v.length === weights.length && v.every((x) => x !== null && Number.isFinite(x));
  const fit = finite(weights) ? weights : null;
  const model = finite(context.modelWeights) ? context.modelWeights : null;
  if (fit === null && model === null) return [];
  const list = new CandidateList();
  if (fit) list.add({ weights: fit.slice(), arithmetic: 'exact-once', normalise: false, digits: null, origin: 'fitted' });

  const base = context.base !== undefined && context.base !== null && context.base >= 0 && context.base < weights.length ? context.base : null;
  const slerp = weights.length === 2 && context.slerp && context.slerp.consistent.includes('slerp') ? context.slerp : null;
  const cosine = slerp ? Math.cos(slerp.angle) : null;

  if (model) {
    const window = model.map((x) => Math.max(2 * ulpOf(format, x), MIN_WINDOW));
    for (const vector of nearestBlends(model, window)) list.addDecimal(vector, DECIMAL_ARITHMETICS);
    if (slerp && cosine !== null) list.addSlerp(nearestDecimals(slerpT(model, slerp.angle), window[1]!), cosine);
    if (base !== null && Math.abs(model[base]!) > window[base]!) list.addTaskArithmetic(base, nearestTaskScales(model, window, base));
  }
  if (fit) {
    const window = fit.map((x, j) => Math.max(5 * (stdErr[j] ?? 0), 2 * ulpOf(format, x), MIN_WINDOW));
    if (slerp && cosine !== null) list.addSlerp(nearestDecimals(slerp.t, window[1]!), cosine);
    if (base !== null && Math.abs(fit[base]!) > window[base]!) list.addTaskArithmetic(base, nearestTaskScales(fit, window, base));
    for (const { vector, digits } of fittedVectors(fit, window, format)) {
      if (digits === null || digits > 3) list.addWeights(vector, ['exact-once', 'float32'], null, 'format-value');
      else list.addWeights(vector, DECIMAL_ARITHMETICS, digits, 'decimal');
    }
  }
  return list.candidates;
}

/** A candidate's optional report fields (RecipeCandidateReport): present only for SLERP and task arithmetic. */
export function methodFields(c: MergeRecipe): { method?: 'slerp' | 'task-arithmetic'; t?: number; cosine?: number; base?: number } {
  if (c.method === 'slerp') return { method: 'slerp', t: c.t!, cosine: c.cosine! };
  if (c.method === 'task-arithmetic') return { method: 'task-arithmetic', base: c.base! };
  return {};
}

/** The smallest window around a fitted weight: fits are biased where parents differ by few steps (see snapCandidates). */
const MIN_WINDOW = 0.012;
const DECIMAL_ARITHMETICS: readonly MergeArithmetic[] = ['exact-once', 'float32', 'torch-in-dtype', 'format-steps'];
/** Task arithmetic as mergekit computes it: `dtype: float32`, or in the suspect's dtype. */
const TASK_ARITHMETICS: readonly MergeArithmetic[] = ['float32', 'torch-in-dtype'];

/** The ordered, deduplicated (by recipeKey), capped candidate list. */
class CandidateList {
  readonly candidates: RecipeCandidate[] = [];
  private readonly index = new Map<string, number>();

  add(candidate: RecipeCandidate): void {
    const key = recipeKey(candidate);
    const at = this.index.get(key);
    if (at !== undefined) {
      // The fit itself may already be a short decimal (a profile peak at 0.6): one candidate, named as the decimal.
      const existing = this.candidates[at]!;
      if (existing.origin === 'fitted' && candidate.origin !== 'fitted') this.candidates[at] = extended(existing, { digits: candidate.digits, origin: candidate.origin });
      return;
    }
    if (this.candidates.length >= MAX_CANDIDATES) return;
    this.index.set(key, this.candidates.length);
    this.candidates.push(candidate);
  }

  addWeights(vector: number[], arithmetics: readonly MergeArithmetic[], digits: number | null, origin: RecipeCandidate['origin']): void {
    for (const arithmetic of arithmetics) {
      // mergekit's linear divides by the weight sum: a no-op for a sum of 1 in exact arithmetic, not always in bf16.
      this.add({ weights: vector, arithmetic, normalise: arithmetic === 'torch-in-dtype', digits, origin });
    }
  }

  addDecimal(vector: number[], arithmetics: readonly MergeArithmetic[]): void {
    const digits = digitsOf(vector);
    this.addWeights(vector, arithmetics, digits <= 3 ? digits : null, digits <= 3 ? 'decimal' : 'format-value');
  }

  addSlerp(ts: readonly number[], cosine: number): void {
    for (const t of ts) {
      if (!(t > 0 && t < 1)) continue;
      const digits = decimalDigits(t);
      this.add({ weights: [tidy(1 - t), t], arithmetic: 'float32', normalise: false, method: 'slerp', t, cosine, digits, origin: 'decimal' });
    }
  }

  addTaskArithmetic(base: number, vectors: readonly number[][]): void {
    for (const vector of vectors) {
      const digits = digitsOf(vector.filter((_, j) => j !== base));
      for (const arithmetic of TASK_ARITHMETICS) {
        this.add({ weights: vector, arithmetic, normalise: false, method: 'task-arithmetic', base, digits, origin: 'decimal' });
      }
    }
  }
}

function digitsOf(vector: readonly number[]): number {
  return Math.max(...vector.map(decimalDigits));
}

/** x rounded to the nearest multiple of 1/den for each decimal precision, deduplicated, within `window` of x. */
function nearestDecimals(x: number, window: number): number[] {
  const out: number[] = [];
  for (const den of DECIMAL_DENOMINATORS) {
    const value = tidy(Math.round(x * den) / den);
    if (Math.abs(value - x) <= window && !out.includes(value)) out.push(value);
  }
  return out;
}

/** Per precision, the nearest blend (the largest weight taking the rest) and, when the weights do not sum to 1, each weight rounded on its own. */
function nearestBlends(w: readonly number[], window: readonly number[]): number[][] {
  const largest = largestIndex(w);
  const sumsToOne = Math.abs(w.reduce((a, b) => a + b, 0) - 1) <= window.reduce((a, b) => a + b, 0);
  const out = new Map<string, number[]>();
  const keep = (vector: number[]): void => {
    if (vector.every((x, j) => Math.abs(x - w[j]!) <= window[j]!)) out.set(vector.join(','), vector);
  };
  for (const den of DECIMAL_DENOMINATORS) {
    const rounded = w.map((x) => tidy(Math.round(x * den) / den));
    keep(completed(rounded.slice(), largest));
    if (!sumsToOne) keep(rounded);
  }
  return [...out.values()];
}

/** Task arithmetic's λ (every weight but the base's) rounded to each precision; the base's entry is 1 − Σλ. */
function nearestTaskScales(w: readonly number[], window: readonly number[], base: number): number[][] {
  const out = new Map<string, number[]>();
  for (const den of DECIMAL_DENOMINATORS) {
    const vector = w.map((x) => tidy(Math.round(x * den) / den));
    if (!vector.every((x, j) => j === base || Math.abs(x - w[j]!) <= window[j]!)) continue;
    let rest = 1;
    for (let j = 0; j < vector.length; j++) if (j !== base) rest -= vector[j]!;
    vector[base] = tidy(rest);
    out.set(vector.join(','), vector);
  }
  return [...out.values()];
}

/** SLERP's t for coefficients (c0, c1) on an angle θ: atan2(c1 sin θ, c0 + c1 cos θ)/θ; the linear weight when θ = 0. */
function slerpT(c: readonly number[], angle: number): number {
  const [c0, c1] = [c[0]!, c[1]!];
  return angle > 0 ? Math.atan2(c1 * Math.sin(angle), c0 + c1 * Math.cos(angle)) / angle : c1 / (c0 + c1);
}

function largestIndex(w: readonly number[]): number {
  let largest = 0;
  for (let j = 1; j < w.length; j++) if (w[j]! > w[largest]!) largest = j;
  return largest;
}

function completed(vector: number[], largest: number): number[] {
  let rest = 1;
  for (let j = 0; j < vector.length; j++) if (j !== largest) rest -= vector[j]!;
  vector[largest] = tidy(rest);
  return vector;
}

/** The tensor's own weight vectors (see snapCandidates), decimals first, with their digits (null: a format value). */
function fittedVectors(w: readonly number[], window: readonly number[], format: FloatFormat): { vector: number[]; digits: number | null }[] {
  const k = w.length;
  const largest = largestIndex(w);
  const fittedSum = w.reduce((a, b) => a + b, 0);
  const sumWindow = window.reduce((a, b) => a + b, 0);
  const vectors = new Map<string, { vector: number[]; digits: number | null }>();
  const add = (vector: number[], digits: number | null): void => {
    if (!vector.every((x, j) => Math.abs(x - w[j]!) <= window[j]!)) return;
    const key = vector.join(',');
    if (!vectors.has(key)) vectors.set(key, { vector, digits });
  };

  // Both neighbours at each precision (0.125 is as near 0.12 as 0.13) while that keeps
  // the combinations few (three parents or fewer), else the nearest.
  const both = k <= 3;
  for (const den of DECIMAL_DENOMINATORS) {
    const choices = w.map((x) => [...new Set(both ? [Math.floor(x * den), Math.ceil(x * den)] : [Math.round(x * den)])].map((q) => tidy(q / den)));
    const combine = (j: number, vector: number[]): void => {
      if (j === k) {
        const blend = completed(vector.slice(), largest);
        add(blend, digitsOf(blend));
        if (Math.abs(fittedSum - 1) > sumWindow) add(vector, digitsOf(vector));
        return;
      }
      for (const value of choices[j]!) combine(j + 1, [...vector, value]);
    };
    combine(0, []);
  }
  const nearest = w.map((x) => roundTo(format, x));
  add(completed(nearest.slice(), largest), null);
  for (let j = 0; j < k; j++) {
    if (j === largest) continue;
    for (const direction of [-1, 1]) {
      const moved = nearest.slice();
      moved[j] = nearest[j]! + direction * ulpOf(format, nearest[j]!);
      add(completed(moved, largest), null);
    }
  }
  if (Math.abs(fittedSum - 1) > sumWindow) add(nearest, null);
  return [...vectors.values()];
}
