import { PROFILE_BINS, type TensorMoments } from './moments.js';

/**
 * Per-chunk sums: the kernel writes plain float64 totals for one chunk here, and the
 * caller adds them to the tensor's compensated running sums. Keeping chunks short
 * (≤ 2^16 elements) bounds the rounding drift of the naive inner sums.
 */
export interface ChunkSums {
  /** (k+1)² Gram entries, upper triangle filled (the caller mirrors). */
  readonly gram: Float64Array;
  readonly informativeGram: Float64Array;
  readonly equal: Float64Array;
  /** Σ ulp(p_j)²/12 per parent, over used and over informative elements (`--floor all`). */
  readonly parentFloor: Float64Array;
  readonly informativeParentFloor: Float64Array;
  used: number;
  nonFinite: number;
  floor: number;
  floorVar: number;
  informative: number;
  informativeFloor: number;
  parentsEqual: number;
  /**
   * Two parents in the fused kernel's format only, for the element-wise sums: elements
   * where the suspect keeps the reference's bits while the other parent differs, those
   * of them that are informative, and Σ d² over the latter.
   */
  keptBase: number;
  keptBaseInformative: number;
  keptBaseInformativeDd: number;
}

export function emptyChunkSums(parents: number): ChunkSums {
  const m = parents + 1;
  return {
    gram: new Float64Array(m * m),
    informativeGram: new Float64Array(m * m),
    equal: new Float64Array(parents),
    parentFloor: new Float64Array(parents),
    informativeParentFloor: new Float64Array(parents),
    used: 0,
    nonFinite: 0,
    floor: 0,
    floorVar: 0,
    informative: 0,
    informativeFloor: 0,
    parentsEqual: 0,
    keptBase: 0,
    keptBaseInformative: 0,
    keptBaseInformativeDd: 0,
  };
}

export function resetChunkSums(sums: ChunkSums): void {
  sums.gram.fill(0);
  sums.informativeGram.fill(0);
  sums.equal.fill(0);
  sums.parentFloor.fill(0);
  sums.informativeParentFloor.fill(0);
  sums.used = 0;
  sums.nonFinite = 0;
  sums.floor = 0;
  sums.floorVar = 0;
  sums.informative = 0;
  sums.informativeFloor = 0;
  sums.parentsEqual = 0;
  sums.keptBase = 0;
  sums.keptBaseInformative = 0;
  sums.keptBaseInformativeDd = 0;
}

/** Decoded values of one chunk: the suspect with its rounding cells, and the parents. */
export interface DecodedChunk {
  count: number;
  readonly suspect: Float64Array;
  /** Rounding cell of each suspect value: [s - below/2, s + above/2] (format/dtype.ts). */
  readonly above: Float64Array;
  readonly below: Float64Array;
  /** In --parents order. */
  readonly parents: Float64Array[];
  /** The parents' rounding cells, when the floor includes the parents' noise (`--floor all`). */
  readonly parentAbove: Float64Array[] | null;
  readonly parentBelow: Float64Array[] | null;
}

/**
 * The parents' own rounding noise, Σ ulp(p_j)²/12 per parent, over the elements the
 * kernels use (finite everywhere) and over the informative ones (the kernels' test:
 * max_j |p_j − r| ≥ T·ulp(s), not all parents equal). A second loop over the chunk, run
 * only under `--floor all`, so the kernels stay as they are.
 */
export function accumulateParentFloors(chunk: DecodedChunk, reference: number, informativeUlps: number, out: ChunkSums): void {
  const { count, suspect, above, below, parents, parentAbove, parentBelow } = chunk;
  if (!parentAbove || !parentBelow) return;
  const k = parents.length;
  const refValues = parents[reference]!;
  for (let i = 0; i < count; i++) {
    const s = suspect[i]!;
    let finite = Number.isFinite(s);
    let maxD = 0;
    const r = refValues[i]!;
    for (let j = 0; j < k; j++) {
      const p = parents[j]![i]!;
      if (!Number.isFinite(p)) finite = false;
      const d = p - r;
      const absD = d < 0 ? -d : d;
      if (absD > maxD) maxD = absD;
    }
    if (!finite) continue;
    const up = above[i]!;
    const down = below[i]!;
    const ulp = up > down ? up : down;
    const informative = maxD > 0 && maxD >= informativeUlps * ulp;
    for (let j = 0; j < k; j++) {
      const pu = parentAbove[j]![i]!;
      const pd = parentBelow[j]![i]!;
      const pulp = pu > pd ? pu : pd;
      const term = (pulp * pulp) / 12;
      out.parentFloor[j]! += term;
      if (informative) out.informativeParentFloor[j]! += term;
    }
  }
}

/**
 * Two parents, the common case, with every sum in a local variable. `profileDiff` is a
 * difference array over the exact-hit profile's bins (length PROFILE_BINS + 1): an
 * element reproduced exactly for w in [lo, hi] adds 1 at the first bin whose centre is
 * ≥ lo and subtracts 1 after the last bin whose centre is ≤ hi.
 */
export function accumulateTwoParents(
  chunk: DecodedChunk,
  reference: number,
  informativeUlps: number,
  profileLo: number,
  profileWidth: number,
  profileDiff: Float64Array,
  out: ChunkSums,
): void {
  const { count, suspect, above, below } = chunk;
  const refValues = chunk.parents[reference]!;
  const other = chunk.parents[1 - reference]!;
  let rr = 0, rd = 0, re = 0, dd = 0, de = 0, ee = 0;
  let ird = 0, irr = 0, ire = 0, idd = 0, ide = 0, iee = 0;
  let used = 0, nonFinite = 0, floor = 0, floorVar = 0, informative = 0, informativeFloor = 0;
  let equalRef = 0, equalOther = 0, parentsEqual = 0;
  const lastBin = PROFILE_BINS - 1;
  const binsPerUnit = Math.round(1 / profileWidth);
  const centreOffset = Math.round(-(profileLo + profileWidth / 2) * binsPerUnit);
  for (let i = 0; i < count; i++) {
    const s = suspect[i]!;
    const r = refValues[i]!;
    const p = other[i]!;
    if (!(Number.isFinite(s) && Number.isFinite(r) && Number.isFinite(p))) {
      nonFinite++;
      continue;
    }
    used++;
    const d = p - r;
    const e = s - r;
    rr += r * r;
    rd += r * d;
    re += r * e;
    dd += d * d;
    de += d * e;
    ee += e * e;
    const up = above[i]!;
    const down = below[i]!;
    const ulp = up > down ? up : down;
    const ulp2 = ulp * ulp;
    floor += ulp2;
    floorVar += ulp2 * ulp2;
    if (s === r) equalRef++;
    if (s === p) equalOther++;
    if (d === 0) {
      parentsEqual++;
      continue;
    }
    const absD = d < 0 ? -d : d;
    if (absD < informativeUlps * ulp) continue;
    informative++;
    informativeFloor += ulp2;
    irr += r * r;
    ird += r * d;
    ire += r * e;
    idd += d * d;
    ide += d * e;
    iee += e * e;
    addProfileInterval(profileDiff, e, down, up, d, binsPerUnit, centreOffset, lastBin);
  }
  const g = out.gram;
  // Vector order [r, d, e]: indices 0, 1, 2 of a 3×3 matrix.
  g[0] = rr; g[1] = rd; g[2] = re; g[4] = dd; g[5] = de; g[8] = ee;
  const ig = out.informativeGram;
  ig[0] = irr; ig[1] = ird; ig[2] = ire; ig[4] = idd; ig[5] = ide; ig[8] = iee;
  out.used = used;
  out.nonFinite = nonFinite;
  out.floor = floor / 12;
  out.floorVar = floorVar / 180;
  out.informative = informative;
  out.informativeFloor = informativeFloor / 12;
  out.equal[reference] = equalRef;
  out.equal[1 - reference] = equalOther;
  out.parentsEqual = parentsEqual;
}

/**
 * Any number of parents (k ≥ 1). Slower than the two-parent kernel: the vector
 * [r, d_1 … d_{k-1}, e] lives in a small reused array.
 */
export function accumulateManyParents(
  chunk: DecodedChunk,
  reference: number,
  informativeUlps: number,
  vector: Float64Array,
  out: ChunkSums,
): void {
  const { count, suspect, above, below, parents } = chunk;
  const k = parents.length;
  const m = k + 1;
  const refValues = parents[reference]!;
  const g = out.gram;
  const ig = out.informativeGram;
  const equal = out.equal;
  let used = 0, nonFinite = 0, floor = 0, floorVar = 0, informative = 0, informativeFloor = 0, parentsEqual = 0;
  for (let i = 0; i < count; i++) {
    const s = suspect[i]!;
    const r = refValues[i]!;
    let finite = Number.isFinite(s);
    for (let j = 0; j < k; j++) if (!Number.isFinite(parents[j]![i]!)) finite = false;
    if (!finite) {
      nonFinite++;
      continue;
    }
    used++;
    vector[0] = r;
    let slot = 1;
    let maxD = 0;
    for (let j = 0; j < k; j++) {
      const p = parents[j]![i]!;
      if (s === p) equal[j]! += 1;
      if (j === reference) continue;
      const d = p - r;
      vector[slot++] = d;
      const absD = d < 0 ? -d : d;
      if (absD > maxD) maxD = absD;
    }
    vector[m - 1] = s - r;
    for (let a = 0; a < m; a++) {
      const va = vector[a]!;
      for (let b = a; b < m; b++) g[a * m + b]! += va * vector[b]!;
    }
    const up = above[i]!;
    const down = below[i]!;
    const ulp = up > down ? up : down;
    const ulp2 = ulp * ulp;
    floor += ulp2;
    floorVar += ulp2 * ulp2;
    if (maxD === 0) {
      parentsEqual++;
      continue;
    }
    if (maxD < informativeUlps * ulp) continue;
    informative++;
    informativeFloor += ulp2;
    for (let a = 0; a < m; a++) {
      const va = vector[a]!;
      for (let b = a; b < m; b++) ig[a * m + b]! += va * vector[b]!;
    }
  }
  out.used = used;
  out.nonFinite = nonFinite;
  out.floor = floor / 12;
  out.floorVar = floorVar / 180;
  out.informative = informative;
  out.informativeFloor = informativeFloor / 12;
  out.parentsEqual = parentsEqual;
}

/**
 * Adds a chunk's totals to the tensor's moments with Neumaier compensation held in
 * `carry` (same layout as the flattened sums), so that billions of elements in
 * thousands of chunks do not drift.
 */
export class CompensatedMoments {
  private readonly carry: Float64Array;

  constructor(readonly moments: TensorMoments) {
    const m = moments.parents + 1;
    this.carry = new Float64Array(2 * m * m + 5);
  }

  private add(target: Float64Array, index: number, carryIndex: number, value: number): void {
    const sum = target[index]!;
    const t = sum + value;
    const c = Math.abs(sum) >= Math.abs(value) ? sum - t + value : value - t + sum;
    this.carry[carryIndex]! += c;
    target[index] = t;
  }

  private scalars = new Float64Array(5);

  addChunk(sums: ChunkSums): void {
    const mom = this.moments;
    const m = mom.parents + 1;
    for (let a = 0; a < m; a++) {
      for (let b = a; b < m; b++) {
        this.add(mom.gram, a * m + b, a * m + b, sums.gram[a * m + b]!);
        this.add(mom.informative.gram, a * m + b, m * m + a * m + b, sums.informativeGram[a * m + b]!);
      }
    }
    const s = this.scalars;
    s[0] = mom.floor;
    s[1] = mom.floorVar;
    s[2] = mom.informative.floor;
    this.add(s, 0, 2 * m * m, sums.floor);
    this.add(s, 1, 2 * m * m + 1, sums.floorVar);
    this.add(s, 2, 2 * m * m + 2, sums.informativeFloor);
    mom.floor = s[0]!;
    mom.floorVar = s[1]!;
    mom.informative.floor = s[2]!;
    // Counts are integers below 2^53: exact without compensation.
    mom.used += sums.used;
    mom.nonFinite += sums.nonFinite;
    mom.informative.count += sums.informative;
    mom.parentsEqual += sums.parentsEqual;
    for (let j = 0; j < mom.parents; j++) {
      mom.equal[j]! += sums.equal[j]!;
      mom.parentFloor[j]! += sums.parentFloor[j]!;
      mom.informative.parentFloor[j]! += sums.informativeParentFloor[j]!;
    }
  }

  /** Applies the compensation and mirrors the Gram's upper triangle. */
  finish(): TensorMoments {
    const mom = this.moments;
    const m = mom.parents + 1;
    for (let a = 0; a < m; a++) {
      for (let b = a; b < m; b++) {
        mom.gram[a * m + b]! += this.carry[a * m + b]!;
        mom.informative.gram[a * m + b]! += this.carry[m * m + a * m + b]!;
        mom.gram[b * m + a] = mom.gram[a * m + b]!;
        mom.informative.gram[b * m + a] = mom.informative.gram[a * m + b]!;
      }
    }
    mom.floor += this.carry[2 * m * m]!;
    mom.floorVar += this.carry[2 * m * m + 1]!;
    mom.informative.floor += this.carry[2 * m * m + 2]!;
    this.carry.fill(0);
    return mom;
  }
}

/**
 * Adds one informative element to the exact-hit profile's difference array: every bin
 * b whose centre w = (b − centreOffset)/binsPerUnit satisfies e − down/2 ≤ w·d ≤ e + up/2,
 * i.e. round(r + w·d) == s. The float quotient only proposes the first and last N =
 * b − centreOffset; the exact products N·d and binsPerUnit·(e ∓ half) settle them, so an
 * interval ending exactly on a centre — round weights are centres — is counted exactly
 * as the reference does. They are exact in float64 for values of formats with up to 24
 * significant bits whose binades are near each other; e = s − r and d = p − r themselves
 * round when s, r and p lie dozens of binades apart (s = 1 against r = 2^100), and then
 * the interval may gain or lose a bin at its end, in every kernel alike.
 */
export function addProfileInterval(
  profileDiff: Float64Array,
  e: number,
  down: number,
  up: number,
  d: number,
  binsPerUnit: number,
  centreOffset: number,
  lastBin: number,
): void {
  let low = binsPerUnit * (e - down / 2);
  let high = binsPerUnit * (e + up / 2);
  let step = d;
  if (d < 0) {
    const t = low;
    low = -high;
    high = -t;
    step = -d;
  }
  let first = Math.ceil(low / step);
  if ((first - 1) * step >= low) first--;
  else if (first * step < low) first++;
  let last = Math.floor(high / step);
  if ((last + 1) * step <= high) last++;
  else if (last * step > high) last--;
  first += centreOffset;
  last += centreOffset;
  if (first < 0) first = 0;
  if (last > lastBin) last = lastBin;
  if (first <= last) {
    profileDiff[first]! += 1;
    profileDiff[last + 1]! -= 1;
  }
}
