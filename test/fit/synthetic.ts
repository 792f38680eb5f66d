import { roundTo, ulpOf, type FloatFormat } from '../../src/format/dtype.js';

/**
 * Synthetic "models" for the fit and verdict tests: a base tensor and fine-tunes of it
 * whose differences are low-rank plus noise (as real fine-tunes are), sized in units of
 * the storage format's step at the base's typical magnitude.
 */

/** mulberry32: small, seeded, good enough for test data. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(next: () => number): number {
  const u = 1 - next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}

/** Weights of a layer: N(0, 0.02²), like an initialized-then-trained transformer matrix. */
export function baseTensor(n: number, next: () => number): Float64Array {
  return Float64Array.from({ length: n }, () => 0.02 * gaussian(next));
}

/**
 * A rows×cols change: rank-2 outer products plus i.i.d. noise (half the energy each),
 * scaled to an RMS of `size`.
 */
export function fineTuneDelta(rows: number, cols: number, size: number, next: () => number): Float64Array {
  const delta = new Float64Array(rows * cols);
  for (let rank = 0; rank < 2; rank++) {
    const u = Float64Array.from({ length: rows }, () => gaussian(next));
    const v = Float64Array.from({ length: cols }, () => gaussian(next));
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) delta[i * cols + j]! += (u[i]! * v[j]!) / Math.SQRT2 / 2;
  }
  for (let i = 0; i < delta.length; i++) delta[i]! += gaussian(next) / Math.SQRT2;
  const rms = Math.sqrt(delta.reduce((sum, x) => sum + x * x, 0) / delta.length);
  for (let i = 0; i < delta.length; i++) delta[i]! *= size / rms;
  return delta;
}

/**
 * `count` fine-tunes of one base stored in `format`, each differing from the base by
 * `deltaUlps` steps of the format at the base's RMS (RMS over elements).
 */
export function fineTunes(
  format: FloatFormat,
  rows: number,
  cols: number,
  count: number,
  deltaUlps: number,
  seed: number,
): Float64Array[] {
  const next = random(seed);
  const base = baseTensor(rows * cols, next);
  const size = deltaUlps * ulpOf(format, 0.02);
  return Array.from({ length: count }, () => {
    const delta = fineTuneDelta(rows, cols, size, next);
    return Float64Array.from(base, (x, i) => roundTo(format, x + delta[i]!));
  });
}

/** Σ w_j p_j computed in float32 (each product and partial sum rounded), then stored in `format`. */
export function blendInFloat32(format: FloatFormat, parents: Float64Array[], weights: number[]): Float64Array {
  const w = weights.map(Math.fround);
  return Float64Array.from(parents[0]!, (_, i) => {
    let sum = 0;
    for (let j = 0; j < parents.length; j++) sum = Math.fround(sum + Math.fround(w[j]! * parents[j]![i]!));
    return roundTo(format, sum);
  });
}

/** Σ w_j p_j in exact (float64) arithmetic, rounded once to `format`. */
export function blendRoundedOnce(format: FloatFormat, parents: Float64Array[], weights: number[]): Float64Array {
  return Float64Array.from(parents[0]!, (_, i) => {
    let sum = 0;
    for (let j = 0; j < parents.length; j++) sum += weights[j]! * parents[j]![i]!;
    return roundTo(format, sum);
  });
}

/** The blend computed the way a bf16 merge script does: weights, products and the sum all rounded to `format`. */
export function blendInFormat(format: FloatFormat, parents: Float64Array[], weights: number[]): Float64Array {
  const w = weights.map((x) => roundTo(format, x));
  return Float64Array.from(parents[0]!, (_, i) => {
    let sum = roundTo(format, w[0]! * parents[0]![i]!);
    for (let j = 1; j < parents.length; j++) sum = roundTo(format, sum + roundTo(format, w[j]! * parents[j]![i]!));
    return sum;
  });
}

/** Median over elements of |a − b| in steps of `format` at a. */
export function medianUlpDistance(format: FloatFormat, a: Float64Array, b: Float64Array): number {
  const distances = Array.from(a, (x, i) => Math.abs(b[i]! - x) / ulpOf(format, x)).sort((p, q) => p - q);
  return distances[distances.length >> 1]!;
}
