import type { FloatFormat } from '../../format/dtype.js';
import { roundTo } from '../../format/dtype.js';

/**
 * How a merge tool computes Σ w_j·p_j, element by element, so that a candidate recipe
 * can be replayed bit for bit on decoded parent values:
 *
 * - 'exact-once': the sum in float64 (within a few 2⁻⁵³ of exact), rounded once to
 *   the suspect's format: what a float64 merge saved in the suspect's dtype gives,
 *   and the reading of "the suspect is this blend, rounded once".
 * - 'float32': PyTorch on float32 tensors, as mergekit runs with `dtype: float32`:
 *   each weight a float32, each product and each partial sum rounded to float32, left
 *   to right in --parents order, then the result rounded to the suspect's format.
 * - 'torch-in-dtype': mergekit `linear` with `dtype` equal to the suspect's (bfloat16,
 *   float16) on CPU: parents cast to the format, weights rounded to it (0.6 →
 *   0.6015625 in bf16), each product rounded to the format, the sum accumulated in float32 and rounded once,
 *   then, when normalising, divided by the format-rounded sum of the weights (in
 *   float32, rounded to the format).
 * - 'format-steps': every operation rounded to the suspect's format, left to right
 *   (parents cast, weights, products, each partial sum), no normalisation: a merge script that does
 *   plain arithmetic on tensors of that dtype on an accelerator.
 */
export const MERGE_ARITHMETICS = ['exact-once', 'float32', 'torch-in-dtype', 'format-steps'] as const;
export type MergeArithmetic = (typeof MERGE_ARITHMETICS)[number];

/**
 * Recipes that are not a plain weighted sum (absent `method`: Σ w_j p_j as above):
 *
 * - 'slerp': mergekit's slerp(t, p0, p1), p0 its base_model, always in numpy float32
 *   whatever the merge's dtype: θ from the float32 dot product of the normalised
 *   tensors; above |cos θ| = SLERP_DOT_THRESHOLD a plain lerp (1 − t)·p0 + t·p1; else
 *   c0 = sin(θ − tθ)/sin θ and c1 = sin(tθ)/sin θ, every scalar step a float32 (numpy 2:
 *   a Python float meeting a float32 becomes a float32), c0·p0 + c1·p1 in float32, then
 *   one rounding to the output dtype. θ belongs to the whole tensor, so the recipe
 *   carries the tensor's cosine. Arithmetic 'float32' is that; 'exact-once' is the
 *   textbook SLERP, float64 and one rounding.
 * - 'task-arithmetic': mergekit's task_arithmetic, base + Σ λ_j (p_j − base) with
 *   λ_j = weights[j] for every j but `base`: task vectors p_j − base, each times its
 *   weight, summed over j; with `normalise`, the sum divided by Σ λ_j (1 where that is
 *   below 1e-8); then added to the base. 'float32': every step a float32 (mergekit
 *   `dtype: float32`), then one rounding to the suspect's format; 'torch-in-dtype':
 *   mergekit with `dtype` = the suspect's on CPU — each step rounded to the format
 *   (the sum over task vectors accumulated in float32, as torch reduces bf16), the
 *   weights too.
 */
export const MERGE_METHODS = ['weighted-sum', 'slerp', 'task-arithmetic'] as const;
export type MergeMethod = (typeof MERGE_METHODS)[number];

/** mergekit's slerp falls back to lerp above this |cos θ| (slerp.py's DOT_THRESHOLD). */
export const SLERP_DOT_THRESHOLD = 0.9995;

export interface MergeRecipe {
  /**
   * Nominal weights, one per parent in --parents order (0 for a parent left out). SLERP:
   * the lerp weights [1 − t, t]. Task arithmetic: λ_j for each task parent and, at
   * `base`, the base's own coefficient in the result (1 − Σλ; 0 when normalised).
   */
  readonly weights: readonly number[];
  readonly arithmetic: MergeArithmetic;
  /** Divide by the (arithmetic's) sum of the weights, as mergekit's `linear` does by default. */
  readonly normalise: boolean;
  /** Absent: 'weighted-sum'. */
  readonly method?: MergeMethod;
  /** SLERP: the weight toward parent 1 (parent 0 is mergekit's base_model). */
  readonly t?: number;
  /** SLERP: cos θ between this tensor's two parents (the recipe is per tensor; the key leaves it out). */
  readonly cosine?: number;
  /** Task arithmetic: the base's index among the parents. */
  readonly base?: number;
}

/** A recipe prepared for replay in one suspect format: the weights as the arithmetic really uses them. */
export interface CompiledRecipe {
  readonly recipe: MergeRecipe;
  readonly format: FloatFormat;
  readonly method: MergeMethod;
  /**
   * Weights after the arithmetic's own rounding (float32 or the suspect's format): SLERP's
   * two coefficients for this tensor's angle; task arithmetic's λ_j, with the base's
   * entry set so that effective/normaliser gives its coefficient in the result.
   */
  readonly effective: Float64Array;
  /** What the sum (task arithmetic: of the task vectors) is divided by (1: no division). */
  readonly normaliser: number;
}

export function compileRecipe(recipe: MergeRecipe, format: FloatFormat): CompiledRecipe {
  const method = recipe.method ?? 'weighted-sum';
  if (method === 'slerp') return { recipe, format, method, effective: slerpCoefficients(recipe), normaliser: 1 };
  if (method === 'task-arithmetic') return compileTaskArithmetic(recipe, format);
  const k = recipe.weights.length;
  const effective = new Float64Array(k);
  let normaliser = 1;
  switch (recipe.arithmetic) {
    case 'exact-once': {
      let sum = 0;
      for (let j = 0; j < k; j++) sum += (effective[j] = recipe.weights[j]!);
      if (recipe.normalise && sum !== 0) normaliser = sum;
      break;
    }
    case 'float32': {
      let sum = 0;
      for (let j = 0; j < k; j++) sum = Math.fround(sum + (effective[j] = Math.fround(recipe.weights[j]!)));
      if (recipe.normalise && sum !== 0) normaliser = sum;
      break;
    }
    case 'torch-in-dtype': {
      let sum = 0;
      for (let j = 0; j < k; j++) sum = Math.fround(sum + (effective[j] = roundTo(format, recipe.weights[j]!)));
      const rounded = roundTo(format, sum);
      if (recipe.normalise && rounded !== 0) normaliser = rounded;
      break;
    }
    case 'format-steps': {
      for (let j = 0; j < k; j++) effective[j] = roundTo(format, recipe.weights[j]!);
      break;
    }
  }
  return { recipe, format, method, effective, normaliser };
}

/**
 * SLERP's two coefficients for one tensor. 'float32' follows mergekit's numpy steps
 * (see MERGE_METHODS): the float32 cosine, arccos and sines rounded to float32 (numpy's
 * float32 ufuncs; a correctly rounded value is the model — any last-bit difference
 * moves a bf16 result only where the float32 sum sits within a float32 step of a bf16
 * tie), θ·t and θ − θ·t in float32. The cosine given is the tensor's exact one: numpy's
 * float32 dot of the normalised tensors lands within a few float32 steps of it.
 */
function slerpCoefficients(recipe: MergeRecipe): Float64Array {
  const t = recipe.t;
  const cosine = recipe.cosine;
  if (t === undefined || cosine === undefined || recipe.weights.length !== 2) {
    throw new Error('compileRecipe: a slerp recipe needs two parents, t and the cosine of their angle');
  }
  if (recipe.arithmetic === 'float32') {
    const dot = Math.fround(Math.min(1, Math.max(-1, cosine)));
    // A float32 compared with a Python float: no float32 lies strictly between 0.9995 and its float32, so either reading agrees.
    if (Math.abs(dot) > SLERP_DOT_THRESHOLD) return Float64Array.of(Math.fround(1 - t), Math.fround(t));
    const theta = Math.fround(Math.acos(dot));
    const sinTheta = Math.fround(Math.sin(theta));
    const thetaT = Math.fround(theta * Math.fround(t));
    const c0 = Math.fround(Math.fround(Math.sin(Math.fround(theta - thetaT))) / sinTheta);
    const c1 = Math.fround(Math.fround(Math.sin(thetaT)) / sinTheta);
    return Float64Array.of(c0, c1);
  }
  if (recipe.arithmetic === 'exact-once') {
    const c = Math.min(1, Math.max(-1, cosine));
    if (Math.abs(c) > SLERP_DOT_THRESHOLD) return Float64Array.of(1 - t, t);
    const theta = Math.acos(c);
    const sinTheta = Math.sin(theta);
    return Float64Array.of(Math.sin((1 - t) * theta) / sinTheta, Math.sin(t * theta) / sinTheta);
  }
  throw new Error(`compileRecipe: slerp is replayed in float32 (mergekit's numpy) or exact-once, not ${recipe.arithmetic}`);
}

function compileTaskArithmetic(recipe: MergeRecipe, format: FloatFormat): CompiledRecipe {
  const base = recipe.base;
  const k = recipe.weights.length;
  if (base === undefined || !Number.isInteger(base) || base < 0 || base >= k) {
    throw new Error('compileRecipe: a task-arithmetic recipe needs the index of its base among the parents');
  }
  const effective = new Float64Array(k);
  let sum = 0;
  let normaliser: number;
  switch (recipe.arithmetic) {
    case 'exact-once':
      for (let j = 0; j < k; j++) if (j !== base) sum += (effective[j] = recipe.weights[j]!);
      normaliser = sum;
      break;
    case 'float32':
      for (let j = 0; j < k; j++) if (j !== base) sum = Math.fround(sum + (effective[j] = Math.fround(recipe.weights[j]!)));
      normaliser = sum;
      break;
    case 'torch-in-dtype':
      for (let j = 0; j < k; j++) if (j !== base) sum = Math.fround(sum + (effective[j] = roundTo(format, recipe.weights[j]!)));
      normaliser = roundTo(format, sum);
      break;
    case 'format-steps':
      throw new Error('compileRecipe: task arithmetic is replayed exact-once, in float32 or in the suspect dtype (torch-in-dtype)');
  }
  // mergekit divides by the weight sum only when asked, and by 1 when that sum is below 1e-8.
  if (!recipe.normalise || Math.abs(normaliser) < 1e-8) normaliser = 1;
  effective[base] = normaliser - sum;
  return { recipe, format, method: 'task-arithmetic', effective, normaliser };
}

/** Whether the recipe's arithmetic casts the parents to the suspect's format first (see MERGE_ARITHMETICS). */
export function castsParents(compiled: CompiledRecipe): boolean {
  return compiled.recipe.arithmetic === 'torch-in-dtype' || compiled.recipe.arithmetic === 'format-steps';
}

/** Elements [0, count) of each parent rounded to `format`, into `into` (arrays of at least count). */
export function castParents(format: FloatFormat, parents: readonly Float64Array[], count: number, into: readonly Float64Array[]): void {
  parents.forEach((p, j) => {
    const cast = into[j]!;
    for (let i = 0; i < count; i++) cast[i] = roundTo(format, p[i]!);
  });
}

/**
 * Replays a compiled recipe on `count` elements of decoded parent values (each
 * parent's values exactly representable in its own dtype) into `out`. `cast`: the
 * parents already rounded to the recipe's format (castParents), for the arithmetics
 * that cast them (castsParents) — a caller replaying many candidates on one chunk
 * rounds them once, not once per candidate; without it they are rounded here.
 */
export function replayRecipe(compiled: CompiledRecipe, parents: readonly Float64Array[], count: number, out: Float64Array, cast?: readonly Float64Array[]): void {
  let inFormat = cast ?? null;
  if (inFormat === null && castsParents(compiled)) {
    const own = parents.map(() => new Float64Array(count));
    castParents(compiled.format, parents, count, own);
    inFormat = own;
  }
  if (compiled.method === 'task-arithmetic') {
    replayTaskArithmetic(compiled, parents, inFormat, count, out);
    return;
  }
  // SLERP is the weighted sum with its coefficients: c0·p0 + c1·p1 in the same arithmetic.
  const { format, effective: w, normaliser } = compiled;
  const k = w.length;
  switch (compiled.recipe.arithmetic) {
    case 'exact-once':
      for (let i = 0; i < count; i++) {
        let sum = 0;
        for (let j = 0; j < k; j++) sum += w[j]! * parents[j]![i]!;
        out[i] = roundTo(format, normaliser === 1 ? sum : sum / normaliser);
      }
      return;
    case 'float32':
      for (let i = 0; i < count; i++) {
        let sum = Math.fround(w[0]! * parents[0]![i]!);
        for (let j = 1; j < k; j++) sum = Math.fround(sum + Math.fround(w[j]! * parents[j]![i]!));
        // float64 ÷ then one rounding to float32 equals float32 division (53 ≥ 2·24 + 2).
        out[i] = roundTo(format, normaliser === 1 ? sum : Math.fround(sum / normaliser));
      }
      return;
    case 'torch-in-dtype': {
      const p = inFormat!;
      for (let i = 0; i < count; i++) {
        let sum = 0;
        // A product of two format values is exact in float64 (≤ 2·11 significant bits),
        // so rounding it once equals the format's multiply.
        for (let j = 0; j < k; j++) sum = Math.fround(sum + roundTo(format, w[j]! * p[j]![i]!));
        const rounded = roundTo(format, sum);
        out[i] = normaliser === 1 ? rounded : roundTo(format, Math.fround(rounded / normaliser));
      }
      return;
    }
    case 'format-steps': {
      const p = inFormat!;
      for (let i = 0; i < count; i++) {
        let sum = roundTo(format, w[0]! * p[0]![i]!);
        for (let j = 1; j < k; j++) {
          sum = roundTo(format, sum + roundTo(format, w[j]! * p[j]![i]!));
        }
        out[i] = sum;
      }
      return;
    }
  }
}

/** base + Σ λ_j (p_j − base) [÷ normaliser], in the recipe's arithmetic (see MERGE_METHODS). */
function replayTaskArithmetic(compiled: CompiledRecipe, parents: readonly Float64Array[], inFormat: readonly Float64Array[] | null, count: number, out: Float64Array): void {
  const { format, effective: w, normaliser } = compiled;
  const k = w.length;
  const b = compiled.recipe.base!;
  const baseValues = parents[b]!;
  switch (compiled.recipe.arithmetic) {
    case 'exact-once':
      for (let i = 0; i < count; i++) {
        const r = baseValues[i]!;
        let mixed = 0;
        for (let j = 0; j < k; j++) if (j !== b) mixed += w[j]! * (parents[j]![i]! - r);
        out[i] = roundTo(format, r + (normaliser === 1 ? mixed : mixed / normaliser));
      }
      return;
    case 'float32':
      for (let i = 0; i < count; i++) {
        const r = Math.fround(baseValues[i]!);
        let mixed = 0;
        for (let j = 0; j < k; j++) if (j !== b) mixed = Math.fround(mixed + Math.fround(w[j]! * Math.fround(Math.fround(parents[j]![i]!) - r)));
        if (normaliser !== 1) mixed = Math.fround(mixed / normaliser);
        out[i] = roundTo(format, Math.fround(r + mixed));
      }
      return;
    case 'torch-in-dtype': {
      const p = inFormat!;
      for (let i = 0; i < count; i++) {
        const r = p[b]![i]!;
        let sum = 0;
        // Differences, products and the final sum of two format values are exact in float64: one rounding each, as the format's own operations.
        for (let j = 0; j < k; j++) if (j !== b) sum = Math.fround(sum + roundTo(format, w[j]! * roundTo(format, p[j]![i]! - r)));
        let mixed = roundTo(format, sum);
        if (normaliser !== 1) mixed = roundTo(format, Math.fround(mixed / normaliser));
        out[i] = roundTo(format, r + mixed);
      }
      return;
    }
    case 'format-steps':
      throw new Error('replayRecipe: task arithmetic has no format-steps replay');
  }
}

/** Bit-for-bit equality of decoded values: +0 and −0 differ, as their stored bits do. */
export function sameBits(a: number, b: number): boolean {
  return a === b && (a !== 0 || 1 / a === 1 / b);
}

/** Label of a recipe, stable across tensors: identifies it in model-level tallies. */
export function recipeKey(recipe: MergeRecipe): string {
  const method = recipe.method === 'slerp' ? 'slerp/' : recipe.method === 'task-arithmetic' ? `task-arithmetic@${recipe.base}/` : '';
  return `${method}${recipe.arithmetic}${recipe.normalise ? '/normalised' : ''}:${recipe.weights.map((w) => String(w)).join(',')}`;
}
