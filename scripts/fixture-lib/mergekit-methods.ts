/**
 * Our own implementation of mergekit's published merge methods, per tensor, for
 * fixtures and tests whose parameters are known. Written from the methods'
 * definitions (mergekit/merge_methods/slerp.py, generalized_task_arithmetic.py,
 * sparsify.py, passthrough), not copied: what matters is the arithmetic a detector
 * must recognise.
 *
 * Values are float64 arrays holding values of the parents' dtype; arithmetic is float32
 * (mergekit on float32 tensors, as with `dtype: float32`, and numpy's slerp whatever
 * the dtype) and the result is rounded once to bf16, as a merged model is saved.
 *
 * Determinism: fixtures are compared byte for byte across machines, and Math.sin/acos
 * are only "implementation-approximated" in JavaScript, so the angles here use series
 * built from +, −, ×, ÷ and sqrt, which IEEE 754 rounds correctly everywhere.
 */
import type { Random } from './random.js';
import { roundBf16 } from './synthesis.js';

/** sin x by its Taylor series, for |x| ≤ π (terms up to x^31: error below 1e-17). */
export function seriesSin(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n <= 15; n++) {
    term *= (-x * x) / ((2 * n) * (2 * n + 1));
    sum += term;
  }
  return sum;
}

export function seriesCos(x: number): number {
  let term = 1;
  let sum = 1;
  for (let n = 1; n <= 15; n++) {
    term *= (-x * x) / ((2 * n - 1) * (2 * n));
    sum += term;
  }
  return sum;
}

/** The angle in [0, π] whose cosine is c, by Newton's method on seriesCos from the arcsin-free guess sqrt(2(1 − c)). */
export function seriesAcos(c: number): number {
  const clamped = Math.min(1, Math.max(-1, c));
  let theta = Math.sqrt(2 * (1 - clamped));
  if (theta > 3) theta = 3;
  for (let i = 0; i < 60; i++) {
    const sin = seriesSin(theta);
    if (sin === 0) break;
    const next = theta - (clamped - seriesCos(theta)) / sin;
    if (next === theta) break;
    theta = next;
  }
  return theta;
}

/**
 * numpy's float32 sum of an array (np.sum → add.reduce → pairwise_sum in
 * numpy/_core/src/umath/loops_utils.h.src): fewer than 8 values one after another from
 * −0; up to 128 in eight running sums combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))
 * and the leftover added after; above that the two halves (the first a multiple of 8)
 * summed the same way. Every addition is a float32 one. A contiguous array is one
 * inner loop of the reduction, so the whole array is summed pairwise.
 */
export function numpyFloat32Sum(values: Float32Array, from = 0, n = values.length): number {
  if (n < 8) {
    let sum = -0;
    for (let i = 0; i < n; i++) sum = Math.fround(sum + values[from + i]!);
    return sum;
  }
  if (n <= 128) {
    const r = Array.from(values.subarray(from, from + 8));
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let lane = 0; lane < 8; lane++) r[lane] = Math.fround(r[lane]! + values[from + i + lane]!);
    const add = (x: number, y: number): number => Math.fround(x + y);
    let sum = add(add(add(r[0]!, r[1]!), add(r[2]!, r[3]!)), add(add(r[4]!, r[5]!), add(r[6]!, r[7]!)));
    for (; i < n; i++) sum = Math.fround(sum + values[from + i]!);
    return sum;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return Math.fround(numpyFloat32Sum(values, from, half) + numpyFloat32Sum(values, from + half, n - half));
}

/**
 * np.linalg.norm of a float32 array: sqrt(x·x), the dot product BLAS's sdot. Its
 * summation order is the BLAS build's; the model here is an exact float64 sum rounded
 * once to float32 (any BLAS lands within a few float32 steps of it), then a float32 sqrt.
 */
function float32Norm(v: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  return Math.fround(Math.sqrt(Math.fround(sum)));
}

/** slerp.py's normalize: v / ‖v‖ in float32 when ‖v‖ > eps (1e-8), else v unchanged. */
function normalised(v: Float32Array): Float32Array {
  const norm = float32Norm(v);
  if (!(norm > 1e-8)) return v;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}

/** mergekit's SLERP threshold: above this |cos θ| it falls back to linear interpolation. */
export const SLERP_DOT_THRESHOLD = 0.9995;

/**
 * mergekit's slerp(t, v0, v1), v0 the base_model, as slerp.py computes it with numpy 2:
 * both tensors converted to float32 arrays; the dot product of the normalised arrays,
 * a float32 sum (numpyFloat32Sum) of float32 products; above |dot| = 0.9995 the lerp
 * (1 − t)·v0 + t·v1; else θ = arccos(dot), sin θ, θ·t, sin(θ − θ·t)/sin θ and
 * sin(θ·t)/sin θ, every scalar a float32 (NEP 50: a Python float meeting a float32
 * becomes one), the ufuncs modelled as correctly rounded; then s0·v0 + s1·v1 in
 * float32, and the tensor cast to bf16 once (`.to(dtype)`). Returns the merged values,
 * the two float32 coefficients and the float32 angle (0 for the lerp).
 */
export function slerp(t: number, v0: Float64Array, v1: Float64Array): { values: Float64Array; coefficients: [number, number]; angle: number } {
  const a = Float32Array.from(v0);
  const b = Float32Array.from(v1);
  const n0 = normalised(a);
  const n1 = normalised(b);
  const products = new Float32Array(a.length);
  for (let i = 0; i < products.length; i++) products[i] = n0[i]! * n1[i]!;
  const dot = numpyFloat32Sum(products);
  let c0 = Math.fround(1 - t);
  let c1 = Math.fround(t);
  let angle = 0;
  if (!(Math.abs(dot) > SLERP_DOT_THRESHOLD)) {
    angle = Math.fround(seriesAcos(dot));
    const sin = Math.fround(seriesSin(angle));
    const angleT = Math.fround(angle * Math.fround(t));
    c0 = Math.fround(Math.fround(seriesSin(Math.fround(angle - angleT))) / sin);
    c1 = Math.fround(Math.fround(seriesSin(angleT)) / sin);
  }
  const values = new Float64Array(v0.length);
  for (let i = 0; i < values.length; i++) values[i] = roundBf16(Math.fround(Math.fround(c0 * a[i]!) + Math.fround(c1 * b[i]!)));
  return { values, coefficients: [c0, c1], angle };
}

/** A task vector as mergekit prepares it: δ = p − base, in float32. */
function taskVector(parent: Float64Array, base: Float64Array): Float32Array {
  const delta = new Float32Array(base.length);
  for (let i = 0; i < delta.length; i++) delta[i] = parent[i]! - base[i]!;
  return delta;
}

/** Keeps the `density` share of largest |δ| (ties: lower index first), as `magnitude` sparsification does; zeroes the rest. */
function keepLargest(delta: Float32Array, density: number): Float32Array {
  const n = delta.length;
  const keep = Math.floor(density * n);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.abs(delta[b]!) - Math.abs(delta[a]!) || a - b);
  const out = new Float32Array(n);
  for (let r = 0; r < keep; r++) out[order[r]!] = delta[order[r]!]!;
  return out;
}

/**
 * Breadcrumbs (`magnitude_outliers`): drop the `gamma` share of largest |δ| and the
 * smallest, keeping `density`. The published recipe, not a quirk of mergekit's slicing:
 * there `indices[n_bot:-n_top]` is empty when γ·n < 1 (a tensor under 100 elements at
 * γ = 0.01 loses its whole delta); here such a tensor keeps its top, as intended.
 */
function keepMiddle(delta: Float32Array, density: number, gamma: number): Float32Array {
  const n = delta.length;
  const keep = Math.floor(density * n);
  let top = Math.floor(gamma * n);
  let bottom = n - keep - top;
  if (bottom < 0) {
    top += bottom;
    bottom = 0;
  }
  const ascending = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.abs(delta[a]!) - Math.abs(delta[b]!) || a - b);
  const out = new Float32Array(n);
  for (let r = bottom; r < n - top; r++) out[ascending[r]!] = delta[ascending[r]!]!;
  return out;
}

/** DARE's drop-and-rescale: each δ kept with probability `density`, survivors divided by it. */
function dropAndRescale(delta: Float32Array, density: number, random: Random): Float32Array {
  const out = new Float32Array(delta.length);
  for (let i = 0; i < delta.length; i++) if (random.uniform() < density) out[i] = delta[i]! / density;
  return out;
}

/**
 * DELLA's MagPrune (`della_magprune`): within each row (the last axis of a matrix; a
 * vector is one row), δ's magnitude rank r ∈ [0, 1] (0 the smallest, ties lower index
 * first) sets its keep probability (density − ε) + 2ε·r, so large deltas survive more
 * often; then, as mergekit's default `rescale: true` does, the survivors are scaled so
 * the tensor's L1 norm is what it was (about ÷ density, a little less since the kept
 * entries are the larger ones). Sums in float64 rounded once to float32, as for norms.
 */
function rankedDropAndRescale(delta: Float32Array, density: number, epsilon: number, rowLength: number, random: Random): Float32Array {
  const out = new Float32Array(delta.length);
  const low = Math.fround(density - epsilon);
  const span = Math.fround(2 * epsilon);
  for (let from = 0; from < delta.length; from += rowLength) {
    const n = Math.min(rowLength, delta.length - from);
    const ascending = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.abs(delta[from + a]!) - Math.abs(delta[from + b]!) || a - b);
    const rank = new Float32Array(n);
    ascending.forEach((i, r) => (rank[i] = n > 1 ? Math.fround(r / (n - 1)) : 0));
    for (let i = 0; i < n; i++) {
      const keep = Math.fround(low + Math.fround(rank[i]! * span));
      if (random.uniform() < keep) out[from + i] = delta[from + i]!;
    }
  }
  let before = 0;
  let after = 0;
  for (let i = 0; i < delta.length; i++) {
    before += Math.abs(delta[i]!);
    after += Math.abs(out[i]!);
  }
  const before32 = Math.fround(before);
  const after32 = Math.fround(after);
  if (before32 < 1e-7 || after32 < 1e-7) return out;
  const factor = Math.fround(before32 / after32);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i]! * factor);
  return out;
}

export type Sparsification =
  | { kind: 'none' }
  | { kind: 'magnitude'; density: number }
  | { kind: 'random'; density: number; random: Random }
  | { kind: 'magnitude-outliers'; density: number; gamma: number }
  /** `rowLength`: the tensor's last dimension (its element count for a vector). */
  | { kind: 'magnitude-ranked'; density: number; epsilon: number; rowLength: number; random: Random };

export interface TaskMergeRecipe {
  /** One weight per task parent. */
  weights: readonly number[];
  sparsification: Sparsification;
  /** TIES's sign election: keep, per element, only the deltas agreeing with the sign of their weighted sum. */
  signConsensus: boolean;
  /** Divide by the sum of the (surviving) weights. */
  normalize: boolean;
  /** mergekit's `lambda`: the mixed delta's scale, 1 when absent. */
  lambda?: number;
}

/**
 * mergekit's generalized task arithmetic: task arithmetic (no sparsification, no
 * consensus, no normalisation), TIES (magnitude, consensus, normalised), DARE
 * (random with rescale; dare_ties adds consensus), breadcrumbs (magnitude outliers),
 * DELLA (magnitude-ranked drops with L1 rescale, consensus, normalised; `lambda`
 * scales the mixed delta). base + λ·mixed, in float32, rounded once to bf16.
 */
export function taskMerge(base: Float64Array, parents: readonly Float64Array[], recipe: TaskMergeRecipe): Float64Array {
  const s = recipe.sparsification;
  const deltas = parents.map((p) => {
    const delta = taskVector(p, base);
    switch (s.kind) {
      case 'none':
        return delta;
      case 'magnitude':
        return keepLargest(delta, s.density);
      case 'random':
        return dropAndRescale(delta, s.density, s.random);
      case 'magnitude-outliers':
        return keepMiddle(delta, s.density, s.gamma);
      case 'magnitude-ranked':
        return rankedDropAndRescale(delta, s.density, s.epsilon, s.rowLength, s.random);
    }
  });
  const w = recipe.weights.map(Math.fround);
  const out = new Float64Array(base.length);
  for (let i = 0; i < out.length; i++) {
    let elected = 1;
    if (recipe.signConsensus) {
      let total = 0;
      for (let j = 0; j < deltas.length; j++) total = Math.fround(total + Math.fround(w[j]! * deltas[j]![i]!));
      elected = total >= 0 ? 1 : -1;
    }
    let mixed = 0;
    let divisor = 0;
    for (let j = 0; j < deltas.length; j++) {
      const weighted = Math.fround(w[j]! * deltas[j]![i]!);
      if (recipe.signConsensus && Math.sign(weighted) !== elected) continue;
      mixed = Math.fround(mixed + weighted);
      divisor = Math.fround(divisor + w[j]!);
    }
    if (recipe.normalize) mixed = Math.fround(mixed / (divisor === 0 || Math.abs(divisor) < 1e-8 ? 1 : divisor));
    if (recipe.lambda !== undefined && recipe.lambda !== 1) mixed = Math.fround(mixed * Math.fround(recipe.lambda));
    out[i] = roundBf16(Math.fround(base[i]! + mixed));
  }
  return out;
}

/** A passthrough slice: layers [from, to) of one source model, in order. */
export interface LayerSlice {
  source: number;
  from: number;
  to: number;
}

/**
 * Layer stacking ("frankenmerge", mergekit passthrough with slices): the suspect's
 * layers are the listed slices' layers, renumbered from 0 in order. Returns, for each
 * suspect layer, which source model and layer it copies.
 */
export function stackLayers(slices: readonly LayerSlice[]): { source: number; layer: number }[] {
  return slices.flatMap((slice) => Array.from({ length: slice.to - slice.from }, (_, i) => ({ source: slice.source, layer: slice.from + i })));
}
