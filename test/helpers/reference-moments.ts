import { emptyMoments, PROFILE_BIN, PROFILE_BINS, PROFILE_LO, type TensorMoments } from '../../src/engine/moments.js';
import { ulpOf, type FloatFormat } from '../../src/format/dtype.js';
import { accumulateElementwise } from '../../src/engine/recipes/elementwise-sums.js';

/**
 * The moments of one tensor computed the slow, obvious way: one element at a time, in
 * float64, straight from the definitions in src/engine/moments.ts and statistics.md.
 * The engine's kernel is tested against this.
 *
 * Definitions used, per element i (skipped and counted in `nonFinite` when the suspect
 * or any parent is NaN/±Infinity):
 * - vectors [r, d_1 … d_{k−1}, e]: r = parents[reference], d_j = p_j − r for the other
 *   parents in order, e = s − r, each difference a float64 subtraction;
 * - ulp = ulpOf(suspectFormat, s); floor += ulp²/12, floorVar += ulp⁴/180;
 * - equal[j] += (s === p_j), parentsEqual += (all parents ===);
 * - informative when max_j |d_j| ≥ informativeUlps·ulp (the float64 d_j above);
 * - profile (two parents): for an informative element with a ≠ b (a the reference,
 *   b the other parent), the cell of s is [s − below/2, s + above/2] with below/above
 *   as at the top of src/format/dtype.ts; every bin whose centre
 *   w_b = PROFILE_LO + (b + ½)·PROFILE_BIN satisfies s − below/2 ≤ a + w_b·(b − a) ≤
 *   s + above/2, in exact real arithmetic, gets one hit.
 *
 * - elementwise: accumulateElementwise over the whole tensor, one element at a time.
 *
 * Exactness: counts and the profile are exact — the profile compares exact integers
 * (every float64 is an integer multiple of 2^−1076 here, and the bin centres are
 * rationals with denominator 2/PROFILE_BIN), so no tie can fall either way by
 * rounding. The Gram matrix, floor and floorVar are float64 products summed with
 * Neumaier compensation: accurate to a few ulps of float64 per sum, order-independent
 * to that accuracy, which is tighter than any chunked kernel.
 */
export function referenceMoments(
  suspect: Float64Array,
  parents: Float64Array[],
  suspectFormat: FloatFormat,
  reference: number,
  informativeUlps: number,
): TensorMoments {
  const k = parents.length;
  const n = suspect.length;
  for (const p of parents) {
    if (p.length !== n) throw new Error('referenceMoments: parents and suspect differ in length');
  }
  const moments = emptyMoments(k, reference);
  const m = k + 1;
  const gram = new CompensatedSums(m * m);
  const informativeGram = new CompensatedSums(m * m);
  const floors = new CompensatedSums(3); // floor, floorVar, informative floor
  const others: number[] = [];
  for (let j = 0; j < k; j++) if (j !== reference) others.push(j);
  const vector = new Float64Array(m);

  for (let i = 0; i < n; i++) {
    moments.elements++;
    const s = suspect[i]!;
    let finite = Number.isFinite(s);
    for (const p of parents) finite &&= Number.isFinite(p[i]!);
    if (!finite) {
      moments.nonFinite++;
      continue;
    }
    moments.used++;
    const r = parents[reference]![i]!;
    vector[0] = r;
    let largestDifference = 0;
    for (let q = 0; q < others.length; q++) {
      const d = parents[others[q]!]![i]! - r;
      vector[q + 1] = d;
      largestDifference = Math.max(largestDifference, Math.abs(d));
    }
    vector[k] = s - r;
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) gram.add(a * m + b, vector[a]! * vector[b]!);

    const ulp = ulpOf(suspectFormat, s);
    floors.add(0, (ulp * ulp) / 12);
    floors.add(1, (ulp * ulp * ulp * ulp) / 180);

    let allEqual = true;
    for (let j = 0; j < k; j++) {
      if (s === parents[j]![i]!) moments.equal[j]!++;
      if (parents[j]![i]! !== parents[0]![i]!) allEqual = false;
    }
    if (allEqual) moments.parentsEqual++;

    // Parents that all agree carry no information on the weights, whatever T (even 0).
    if (largestDifference > 0 && largestDifference >= informativeUlps * ulp) {
      moments.informative.count++;
      for (let a = 0; a < m; a++) {
        for (let b = 0; b < m; b++) informativeGram.add(a * m + b, vector[a]! * vector[b]!);
      }
      floors.add(2, (ulp * ulp) / 12);
      if (moments.profile) {
        addProfileHits(moments.profile.hits, suspectFormat, s, r, parents[others[0]!]![i]!);
      }
    }
  }

  moments.gram.set(gram.totals());
  moments.informative.gram.set(informativeGram.totals());
  const [floor, floorVar, informativeFloor] = floors.totals();
  moments.floor = floor!;
  moments.floorVar = floorVar!;
  moments.informative.floor = informativeFloor!;
  // The element-wise sums by their definition (elementwise-sums.ts), element by element
  // over the whole tensor with the suspect's rounding cells.
  const above = new Float64Array(n);
  const below = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(suspect[i]!)) continue;
    const cell = cellOf(suspectFormat, suspect[i]!);
    above[i] = cell.above;
    below[i] = cell.below;
  }
  accumulateElementwise(suspect, above, below, parents, n, informativeUlps, new Float64Array(k), moments.elementwise);
  return moments;
}

// --- the exact-hit profile in exact arithmetic -------------------------------------------

/** Every float64, and half of every cell step, is an integer multiple of 2^−SCALE_BITS. */
const SCALE_BITS = 1076;
const BINS_PER_UNIT = Math.round(1 / PROFILE_BIN);
/** PROFILE_LO in half-bins: an integer, so that every bin centre is an integer over 2·BINS_PER_UNIT. */
const LO_HALF_BINS = Math.round(PROFILE_LO * 2 * BINS_PER_UNIT);
if (Math.abs(1 / BINS_PER_UNIT - PROFILE_BIN) > 1e-15 || Math.abs(LO_HALF_BINS / (2 * BINS_PER_UNIT) - PROFILE_LO) > 1e-15) {
  throw new Error('reference-moments: profile bins are no longer 1/integer wide from a half-integer multiple');
}

/** Cell of the stored value s as [s − below/2, s + above/2] (src/format/dtype.ts). */
export function cellOf(format: FloatFormat, s: number): { below: number; above: number } {
  const ulp = ulpOf(format, s);
  const magnitude = Math.abs(s);
  // An exact power of two above the first normal binade has a grid twice as fine on its side nearer zero.
  const powerOfTwo = magnitude / ulp === 2 ** format.mantissaBits && magnitude >= 2 ** (2 - format.bias);
  if (!powerOfTwo) return { below: ulp, above: ulp };
  return s > 0 ? { below: ulp / 2, above: ulp } : { below: ulp, above: ulp / 2 };
}

function addProfileHits(hits: Float64Array, format: FloatFormat, s: number, a: number, b: number): void {
  const A = scaled(a);
  const D = scaled(b) - A;
  if (D === 0n) return;
  const { below, above } = cellOf(format, s);
  const S = scaled(s);
  const cellLo = S - (scaled(below) >> 1n);
  const cellHi = S + (scaled(above) >> 1n);
  // Centre of bin β is c = N/(2·BINS_PER_UNIT) with the integer N = LO_HALF_BINS + 2β + 1;
  // a + c·D ∈ [cellLo, cellHi]  ⇔  N·D ∈ [2B(cellLo − a), 2B(cellHi − a)]  (B = BINS_PER_UNIT).
  const twoB = BigInt(2 * BINS_PER_UNIT);
  let low = twoB * (cellLo - A);
  let high = twoB * (cellHi - A);
  let step = D;
  if (step < 0n) {
    [low, high] = [-high, -low];
    step = -step;
  }
  const nMin = ceilDiv(low, step);
  const nMax = floorDiv(high, step);
  // N = LO_HALF_BINS + 2β + 1  ⇒  β = (N − 1 − LO_HALF_BINS)/2, an integer only for N of that parity.
  const offset = BigInt(1 + LO_HALF_BINS);
  const first = Math.max(0, Number(ceilDiv(nMin - offset, 2n)));
  const last = Math.min(PROFILE_BINS - 1, Number(floorDiv(nMax - offset, 2n)));
  for (let bin = first; bin <= last; bin++) hits[bin]!++;
}

const bits = new DataView(new ArrayBuffer(8));
/** x·2^SCALE_BITS as an exact integer. */
export function scaled(x: number): bigint {
  if (x === 0) return 0n;
  bits.setFloat64(0, x);
  const high = bits.getUint32(0);
  const low = bits.getUint32(4);
  const biased = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(low);
  let exponent = -1074;
  if (biased !== 0) {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  const value = mantissa << BigInt(exponent + SCALE_BITS);
  return high >>> 31 ? -value : value;
}

function floorDiv(numerator: bigint, denominator: bigint): bigint {
  const q = numerator / denominator; // truncates toward zero; denominator > 0 here
  return numerator < 0n && q * denominator !== numerator ? q - 1n : q;
}

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return -floorDiv(-numerator, denominator);
}

/** Neumaier-compensated running sums. */
class CompensatedSums {
  private readonly sum: Float64Array;
  private readonly compensation: Float64Array;
  constructor(size: number) {
    this.sum = new Float64Array(size);
    this.compensation = new Float64Array(size);
  }
  add(index: number, value: number): void {
    const sum = this.sum[index]!;
    const next = sum + value;
    this.compensation[index]! +=
      Math.abs(sum) >= Math.abs(value) ? sum - next + value : value - next + sum;
    this.sum[index] = next;
  }
  totals(): number[] {
    return Array.from(this.sum, (sum, i) => sum + this.compensation[i]!);
  }
}
