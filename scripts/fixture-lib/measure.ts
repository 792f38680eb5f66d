/**
 * What the README reports about each fixture: how far apart the parents are in units of
 * the suspect's bf16 step (the quantity that decides how hard a blend is to recognise,
 * statistics.md "When the parents differ by a few rounding steps"), how big each
 * update is relative to the weights, and how often the suspect equals a parent bit for bit.
 */
import { FLOAT_FORMATS, roundTo, ulpOf } from '../../src/format/dtype.js';
import { distance, norm, tensorOf, type Weights } from './synthesis.js';
import type { TensorSpec } from './tiny-qwen.js';

/** Upper edges (inclusive) of the |difference| / ulp buckets; the last bucket is open. */
export const ULP_BUCKET_EDGES = [0, 1, 2, 4, 8, 16, 64] as const;
export const ULP_BUCKET_LABELS = ['0', '(0,1]', '(1,2]', '(2,4]', '(4,8]', '(8,16]', '(16,64]', '>64'] as const;
/** statistics.md calls elements informative when the parents are ≥ 4 suspect ulps apart. */
export const INFORMATIVE_ULPS = 4;

export interface UlpDistribution {
  /** Share of elements per ULP_BUCKET_LABELS bucket. */
  shares: number[];
  median: number;
  /** Share with |difference| ≥ INFORMATIVE_ULPS ulps. */
  informative: number;
  elements: number;
}

/** |a − b| / ulp(step_i) over all tensors, ulp taken at `step`'s values (the suspect's). */
export function ulpDistribution(specs: readonly TensorSpec[], a: Weights, b: Weights, step: Weights): UlpDistribution {
  const counts = new Array<number>(ULP_BUCKET_LABELS.length).fill(0);
  const total = specs.reduce((sum, spec) => sum + tensorOf(a, spec.name).length, 0);
  const all = new Float64Array(total);
  let at = 0;
  let informative = 0;
  for (const spec of specs) {
    const x = tensorOf(a, spec.name);
    const y = tensorOf(b, spec.name);
    const s = tensorOf(step, spec.name);
    for (let i = 0; i < x.length; i++) {
      const ulps = Math.abs(x[i]! - y[i]!) / ulpOf(FLOAT_FORMATS.BF16, s[i]!);
      all[at++] = ulps;
      if (ulps >= INFORMATIVE_ULPS) informative++;
      let bucket = 0;
      while (bucket < ULP_BUCKET_EDGES.length && ulps > ULP_BUCKET_EDGES[bucket]!) bucket++;
      counts[bucket]!++;
    }
  }
  all.sort();
  return {
    shares: counts.map((c) => c / total),
    median: all[Math.floor(total / 2)]!,
    informative: informative / total,
    elements: total,
  };
}

export interface RelativeSizes {
  min: number;
  median: number;
  max: number;
}

/** ‖to − from‖ / ‖from‖ per tensor of the given role(s), summarised over tensors. */
export function relativeChange(specs: readonly TensorSpec[], from: Weights, to: Weights): { matrices: RelativeSizes; norms: RelativeSizes } {
  const summarise = (role: TensorSpec['role']): RelativeSizes => {
    const values = specs
      .filter((s) => s.role === role)
      .map((s) => distance(tensorOf(to, s.name), tensorOf(from, s.name)) / norm(tensorOf(from, s.name)))
      .sort((x, y) => x - y);
    return { min: values[0]!, median: values[Math.floor(values.length / 2)]!, max: values[values.length - 1]! };
  };
  return { matrices: summarise('matrix'), norms: summarise('norm') };
}

/** Share of all elements where a and b are bit-identical. */
export function equalShare(specs: readonly TensorSpec[], a: Weights, b: Weights): number {
  let equal = 0;
  let total = 0;
  for (const spec of specs) {
    const x = tensorOf(a, spec.name);
    const y = tensorOf(b, spec.name);
    for (let i = 0; i < x.length; i++) if (Object.is(x[i], y[i])) equal++;
    total += x.length;
  }
  return equal / total;
}

/** Names of the tensors on which a and b are bit-identical. */
export function identicalTensors(specs: readonly TensorSpec[], a: Weights, b: Weights): string[] {
  return specs
    .filter((spec) => {
      const x = tensorOf(a, spec.name);
      const y = tensorOf(b, spec.name);
      for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
      return true;
    })
    .map((spec) => spec.name);
}

export interface TwoParentFit {
  /** Element-weighted mean over tensors of the per-tensor least-squares weight of b, informative elements only. */
  informativeLeastSquares: number;
  /** Share of informative elements where bf16(a + w·(b − a)) equals the suspect, w the true weight of b. */
  reproducedAtTruth: number;
}

/**
 * Two numbers that show why the fixtures are hard: least squares over informative
 * elements is still biased toward a parent when they are few ulps apart, while the
 * true weight reproduces an untouched blend element for element (statistics.md).
 */
export function twoParentFit(specs: readonly TensorSpec[], a: Weights, b: Weights, suspect: Weights, trueWeightOfB: number): TwoParentFit {
  let weightedSum = 0;
  let informativeTotal = 0;
  let reproduced = 0;
  for (const spec of specs) {
    const x = tensorOf(a, spec.name);
    const y = tensorOf(b, spec.name);
    const s = tensorOf(suspect, spec.name);
    let dd = 0;
    let de = 0;
    let informative = 0;
    for (let i = 0; i < x.length; i++) {
      const d = y[i]! - x[i]!;
      if (Math.abs(d) < INFORMATIVE_ULPS * ulpOf(FLOAT_FORMATS.BF16, s[i]!)) continue;
      informative++;
      dd += d * d;
      de += d * (s[i]! - x[i]!);
      if (roundTo(FLOAT_FORMATS.BF16, x[i]! + trueWeightOfB * d) === s[i]) reproduced++;
    }
    if (informative === 0) continue;
    weightedSum += informative * (de / dd);
    informativeTotal += informative;
  }
  return { informativeLeastSquares: weightedSum / informativeTotal, reproducedAtTruth: reproduced / informativeTotal };
}
