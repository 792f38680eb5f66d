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

export interface MergeRecipe {
  /** Nominal weights, one per parent in --parents order (0 for a parent left out). */
  readonly weights: readonly number[];
  readonly arithmetic: MergeArithmetic;
  /** Divide by the (arithmetic's) sum of the weights, as mergekit's `linear` does by default. */
  readonly normalise: boolean;
}

/** A recipe prepared for replay in one suspect format: the weights as the arithmetic really uses them. */
export interface CompiledRecipe {
  readonly recipe: MergeRecipe;
  readonly format: FloatFormat;
  /** Weights after the arithmetic's own rounding (float32 or the suspect's format). */
  readonly effective: Float64Array;
  /** What the sum is divided by (1: no division). */
  readonly normaliser: number;
}

const word = new Float32Array(1);
const bits = new Uint32Array(word.buffer);

/**
 * Rounds a value that is exactly a float32 to bf16, ties to even, on its bits (the
 * classic add-0x7FFF-plus-lsb trick; exact for every finite float32, Inf stays Inf).
 */
function bf16OfFloat32(x: number): number {
  word[0] = x;
  const b = bits[0]!;
  if ((b & 0x7f800000) === 0x7f800000) return x;
  bits[0] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 0) & 0xffff0000;
  return word[0]!;
}

/**
 * Rounds x to `format`, ties to even. The bit-level path is taken only when x is
 * exactly a float32: rounding a float64 first to float32 and then to bf16 would round
 * twice and can land one step off.
 */
export function roundToFormat(format: FloatFormat, x: number): number {
  if (format.dtype === 'BF16' && Math.fround(x) === x) return bf16OfFloat32(x);
  return roundTo(format, x);
}

export function compileRecipe(recipe: MergeRecipe, format: FloatFormat): CompiledRecipe {
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
      for (let j = 0; j < k; j++) sum = Math.fround(sum + (effective[j] = roundToFormat(format, recipe.weights[j]!)));
      const rounded = roundToFormat(format, sum);
      if (recipe.normalise && rounded !== 0) normaliser = rounded;
      break;
    }
    case 'format-steps': {
      for (let j = 0; j < k; j++) effective[j] = roundToFormat(format, recipe.weights[j]!);
      break;
    }
  }
  return { recipe, format, effective, normaliser };
}

/**
 * Replays a compiled recipe on `count` elements of decoded parent values (each
 * parent's values exactly representable in its own dtype) into `out`.
 */
export function replayRecipe(compiled: CompiledRecipe, parents: readonly Float64Array[], count: number, out: Float64Array): void {
  const { format, effective: w, normaliser } = compiled;
  const k = w.length;
  switch (compiled.recipe.arithmetic) {
    case 'exact-once':
      for (let i = 0; i < count; i++) {
        let sum = 0;
        for (let j = 0; j < k; j++) sum += w[j]! * parents[j]![i]!;
        out[i] = roundToFormat(format, normaliser === 1 ? sum : sum / normaliser);
      }
      return;
    case 'float32':
      for (let i = 0; i < count; i++) {
        let sum = Math.fround(w[0]! * parents[0]![i]!);
        for (let j = 1; j < k; j++) sum = Math.fround(sum + Math.fround(w[j]! * parents[j]![i]!));
        // float64 ÷ then one rounding to float32 equals float32 division (53 ≥ 2·24 + 2).
        out[i] = roundToFormat(format, normaliser === 1 ? sum : Math.fround(sum / normaliser));
      }
      return;
    case 'torch-in-dtype':
      for (let i = 0; i < count; i++) {
        let sum = 0;
        // A product of two format values is exact in float64 (≤ 2·11 significant bits),
        // so rounding it once equals the format's multiply.
        for (let j = 0; j < k; j++) sum = Math.fround(sum + roundToFormat(format, w[j]! * roundToFormat(format, parents[j]![i]!)));
        const rounded = roundToFormat(format, sum);
        out[i] = normaliser === 1 ? rounded : roundToFormat(format, Math.fround(rounded / normaliser));
      }
      return;
    case 'format-steps':
      for (let i = 0; i < count; i++) {
        let sum = roundToFormat(format, w[0]! * roundToFormat(format, parents[0]![i]!));
        for (let j = 1; j < k; j++) {
          sum = roundToFormat(format, sum + roundToFormat(format, w[j]! * roundToFormat(format, parents[j]![i]!)));
        }
        out[i] = sum;
      }
      return;
  }
}

/** Bit-for-bit equality of decoded values: +0 and −0 differ, as their stored bits do. */
export function sameBits(a: number, b: number): boolean {
  return a === b && (a !== 0 || 1 / a === 1 / b);
}

/** Label of a recipe, stable across tensors: identifies it in model-level tallies. */
export function recipeKey(recipe: MergeRecipe): string {
  return `${recipe.arithmetic}${recipe.normalise ? '/normalised' : ''}:${recipe.weights.map((w) => String(w)).join(',')}`;
}
