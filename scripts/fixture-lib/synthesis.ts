/**
 * How the fixture models are made: initialisation, fine-tune-like updates and merges in
 * the two arithmetics mergekit users actually run (float32, bfloat16). Every model holds
 * bf16 values, widened exactly to float64.
 */
import { FLOAT_FORMATS, roundTo } from '../../src/format/dtype.js';
import { randomFor } from './random.js';
import { elementCount, type TensorSpec } from './tiny-qwen.js';

/** Tensor name → values, each exactly representable in bf16. */
export type Weights = ReadonlyMap<string, Float64Array>;

const BF16 = FLOAT_FORMATS.BF16;

export function roundBf16(x: number): number {
  return roundTo(BF16, x);
}

/** Matrices N(0, std²), norms 1 + N(0, normStd²), rounded once to bf16. */
export function initialise(specs: readonly TensorSpec[], label: string, std = 0.02, normStd = 0.02): Weights {
  const weights = new Map<string, Float64Array>();
  for (const spec of specs) {
    const random = randomFor(`${label}/init/${spec.name}`);
    const values = random.fillNormal(new Float64Array(elementCount(spec)));
    const [scale, offset] = spec.role === 'norm' ? [normStd, 1] : [std, 0];
    for (let i = 0; i < values.length; i++) values[i] = roundBf16(offset + scale * values[i]!);
    weights.set(spec.name, values);
  }
  return weights;
}

/**
 * A fine-tune-like update: per tensor, a relative size ‖Δ‖/‖W‖ drawn uniformly from the
 * role's range; matrices get a low-rank part (rank 4–8, as training updates are nearly
 * low-rank) carrying `lowRankShare` of the energy plus dense noise; norm vectors get
 * noise only. The result is rounded once: bf16(W + Δ) from float64.
 */
export interface UpdateRecipe {
  /** Seeds the update: two recipes with different labels are independent. */
  readonly label: string;
  readonly matrixRelative: readonly [number, number];
  readonly normRelative: readonly [number, number];
  readonly lowRankShare?: number;
  /** Tensors left bit-identical (frozen during training). */
  readonly frozen?: (spec: TensorSpec) => boolean;
}

export function applyUpdate(specs: readonly TensorSpec[], from: Weights, recipe: UpdateRecipe): Weights {
  const lowRankShare = recipe.lowRankShare ?? 0.6;
  const weights = new Map<string, Float64Array>();
  for (const spec of specs) {
    const start = tensorOf(from, spec.name);
    if (recipe.frozen?.(spec)) {
      weights.set(spec.name, start.slice());
      continue;
    }
    const random = randomFor(`${recipe.label}/update/${spec.name}`);
    const [lo, hi] = spec.role === 'norm' ? recipe.normRelative : recipe.matrixRelative;
    const target = random.between(lo, hi) * norm(start);
    const noise = random.fillNormal(new Float64Array(start.length));
    const delta = new Float64Array(start.length);
    if (spec.role === 'matrix') {
      const [rows, cols] = spec.shape as [number, number];
      const lowRank = lowRankMatrix(rows, cols, random.integer(4, 8), randomFor(`${recipe.label}/low-rank/${spec.name}`));
      const lowRankScale = Math.sqrt(lowRankShare) * (target / norm(lowRank));
      const noiseScale = Math.sqrt(1 - lowRankShare) * (target / norm(noise));
      for (let i = 0; i < delta.length; i++) delta[i] = lowRankScale * lowRank[i]! + noiseScale * noise[i]!;
    } else {
      const noiseScale = target / norm(noise);
      for (let i = 0; i < delta.length; i++) delta[i] = noiseScale * noise[i]!;
    }
    const values = new Float64Array(start.length);
    for (let i = 0; i < values.length; i++) values[i] = roundBf16(start[i]! + delta[i]!);
    weights.set(spec.name, values);
  }
  return weights;
}

/** U·V with U [rows×rank], V [rank×cols] standard normal; summed in a fixed order. */
function lowRankMatrix(rows: number, cols: number, rank: number, random: ReturnType<typeof randomFor>): Float64Array {
  const u = random.fillNormal(new Float64Array(rows * rank));
  const v = random.fillNormal(new Float64Array(rank * cols));
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < rank; k++) {
      const uik = u[i * rank + k]!;
      const row = i * cols;
      const vRow = k * cols;
      for (let j = 0; j < cols; j++) out[row + j] = out[row + j]! + uik * v[vRow + j]!;
    }
  }
  return out;
}

/** Weights with some tensors taken from another model (e.g. frozen ones from the base). */
export function withTensorsFrom(target: Weights, source: Weights, names: Iterable<string>): Weights {
  const out = new Map(target);
  for (const name of names) out.set(name, tensorOf(source, name).slice());
  return out;
}

/**
 * Σ_j w_j·p_j the way PyTorch computes it on float32 tensors (each weight a float32,
 * each product and each partial sum rounded to float32, left to right), then cast to
 * bf16: one merge in float32, saved in bf16. Rounding float64 results of +, × to float32
 * equals float32 arithmetic (53 ≥ 2·24 + 2), so Math.fround reproduces it exactly.
 */
export function blendInFloat32(parents: readonly Weights[], coefficients: readonly number[], specs: readonly TensorSpec[]): Weights {
  const w32 = coefficients.map((w) => Math.fround(w));
  const weights = new Map<string, Float64Array>();
  for (const spec of specs) {
    const sources = parents.map((p) => tensorOf(p, spec.name));
    const out = new Float64Array(elementCount(spec));
    for (let i = 0; i < out.length; i++) {
      let sum = Math.fround(w32[0]! * sources[0]![i]!);
      for (let j = 1; j < sources.length; j++) sum = Math.fround(sum + Math.fround(w32[j]! * sources[j]![i]!));
      out[i] = roundBf16(sum);
    }
    weights.set(spec.name, out);
  }
  return weights;
}

/**
 * mergekit's `linear` merge with `dtype: bfloat16`, as PyTorch runs it on CPU:
 * `weights = torch.tensor(w, dtype=bfloat16)`, `res = (weights * tensors).sum(dim=0)`,
 * `res = res / weights.sum(dim=0)`. A bf16 multiply is done in float32 and rounded to
 * bf16 (the product of two bf16 values is exact in float32, so this is one rounding);
 * the bf16 sum accumulates in float32 and rounds once at the end. Returns the weights
 * and the effective (bf16) coefficients.
 */
export function blendInBf16Arithmetic(
  parents: readonly Weights[],
  coefficients: readonly number[],
  specs: readonly TensorSpec[],
): { weights: Weights; effective: number[] } {
  const wb = coefficients.map(roundBf16);
  let total = 0;
  for (const w of wb) total = Math.fround(total + w);
  const normaliser = roundBf16(total);
  const weights = new Map<string, Float64Array>();
  for (const spec of specs) {
    const sources = parents.map((p) => tensorOf(p, spec.name));
    const out = new Float64Array(elementCount(spec));
    for (let i = 0; i < out.length; i++) {
      let sum = 0;
      for (let j = 0; j < sources.length; j++) sum = Math.fround(sum + roundBf16(wb[j]! * sources[j]![i]!));
      // bf16 ÷ bf16: computed in float32 (correctly rounded via float64), then to bf16.
      out[i] = roundBf16(Math.fround(roundBf16(sum) / normaliser));
    }
    weights.set(spec.name, out);
  }
  return { weights, effective: wb };
}

/** The bf16 sum of the bf16-rounded coefficients: mergekit's normaliser. */
export function bf16WeightSum(coefficients: readonly number[]): number {
  let total = 0;
  for (const w of coefficients) total = Math.fround(total + roundBf16(w));
  return roundBf16(total);
}

export function tensorOf(weights: Weights, name: string): Float64Array {
  const values = weights.get(name);
  if (!values) throw new Error(`fixtures: no tensor ${name}`);
  return values;
}

export function norm(values: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
  return Math.sqrt(sum);
}

export function distance(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return Math.sqrt(sum);
}
