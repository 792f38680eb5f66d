import { decodeWithCell, type FloatFormat } from '../format/dtype.js';
import { addProfileInterval, type ChunkSums } from './accumulate-chunk.js';
import { PROFILE_BINS } from './moments.js';

/**
 * Everything the kernel needs about one 16-bit code, looked up instead of computed:
 * a 65,536-entry table per quantity is 512 KiB and stays in L2, and one load replaces
 * the shifts, masks and branches of decoding plus the cell logic.
 */
export interface Codes16Tables {
  readonly value: Float64Array;
  /** ulp², the per-element term of the floor (NaN for non-finite codes). */
  readonly ulp2: Float64Array;
  /** below/2 and above/2: the suspect value's rounding cell is [s - lowerHalf, s + upperHalf]. */
  readonly lowerHalf: Float64Array;
  readonly upperHalf: Float64Array;
}

const tablesByDtype = new Map<string, Codes16Tables>();

/** Tables for a 16-bit format, built once per process from the reference decoder itself. */
export function codes16Tables(format: FloatFormat): Codes16Tables {
  const cached = tablesByDtype.get(format.dtype);
  if (cached) return cached;
  if (format.bytes !== 2) throw new Error(`codes16Tables: ${format.dtype} is not a 16-bit format`);
  const codes = new Uint16Array(65536);
  for (let c = 0; c < 65536; c++) codes[c] = c;
  const value = new Float64Array(65536);
  const above = new Float64Array(65536);
  const below = new Float64Array(65536);
  decodeWithCell(format, new Uint8Array(codes.buffer), value, above, below, 65536);
  const ulp2 = new Float64Array(65536);
  const lowerHalf = new Float64Array(65536);
  const upperHalf = new Float64Array(65536);
  for (let c = 0; c < 65536; c++) {
    // The kernel's ulp is the larger side of the cell, as accumulateTwoParents takes it.
    const ulp = above[c]! > below[c]! ? above[c]! : below[c]!;
    ulp2[c] = ulp * ulp;
    lowerHalf[c] = below[c]! / 2;
    upperHalf[c] = above[c]! / 2;
  }
  const tables = { value, ulp2, lowerHalf, upperHalf };
  tablesByDtype.set(format.dtype, tables);
  return tables;
}

/** Per-suspect-code informative threshold T·ulp(s), computed as the generic kernel does. */
export function informativeThreshold(tables: Codes16Tables, informativeUlps: number): Float64Array {
  const out = new Float64Array(65536);
  for (let c = 0; c < 65536; c++) out[c] = informativeUlps * Math.sqrt(tables.ulp2[c]!);
  return out;
}

/** Positions of a chunk's informative elements, written by the kernels' first loops (one chunk at a time per thread). */
let informativeAt = new Int32Array(1 << 16);

/**
 * The two-parent kernel fused with decoding, for a suspect and parents stored in one
 * 16-bit format (BF16, F16): reads the codes straight from the read buffers, with every
 * per-code quantity from a table, and keeps every sum in a local. Computes what
 * `decodeWithCell` + `accumulateTwoParents` compute: counts and profile exactly, sums
 * to float64 rounding (test/engine/scan-tensor.test.ts).
 *
 * Speed: two loops. The first, over every element, has no branch: the Gram, the floor,
 * equality counts by integer arithmetic on the codes, and the informative test, which
 * appends the element's position to a list whether or not it counts (the count only
 * advances when it does). The second (`accumulateInformative`) runs over that list
 * alone: the informative Gram and the exact-hit intervals. Informative elements are
 * about half of a fine-tune's and fall at random, so one loop with the test as a branch
 * mispredicted half the time (same sums: each still adds its elements in ascending
 * order). No per-element finiteness test either: a non-finite input makes rr, dd or ee
 * non-finite, and the chunk is then summed again by the checked kernel; finite bf16
 * products cannot overflow float64. Returns false when the chunk must be redone.
 *
 * `suspectCodes`, `referenceCodes` and `otherCodes` hold codes [from, to) of one chunk.
 */
export function accumulateTwoParentsCodes16(
  suspectCodes: Uint16Array,
  referenceCodes: Uint16Array,
  otherCodes: Uint16Array,
  from: number,
  to: number,
  suspectTables: Codes16Tables,
  parentValue: Float64Array,
  threshold: Float64Array,
  reference: number,
  profileLo: number,
  profileWidth: number,
  profileDiff: Float64Array,
  out: ChunkSums,
): boolean {
  const sValue = suspectTables.value;
  const ulp2Of = suspectTables.ulp2;
  if (informativeAt.length < to - from) informativeAt = new Int32Array(to - from);
  const at = informativeAt;
  let rr = 0, rd = 0, re = 0, dd = 0, de = 0, ee = 0;
  let floor = 0, floorVar = 0;
  let equalRef = 0, equalOther = 0, parentsEqual = 0, keptBase = 0;
  let informative = 0;
  for (let i = from; i < to; i++) {
    const cs = suspectCodes[i]!;
    const cr = referenceCodes[i]!;
    const cp = otherCodes[i]!;
    const r = parentValue[cr]!;
    const d = parentValue[cp]! - r;
    const e = sValue[cs]! - r;
    rr += r * r;
    rd += r * d;
    re += r * e;
    dd += d * d;
    de += d * e;
    ee += e * e;
    const ulp2 = ulp2Of[cs]!;
    floor += ulp2;
    floorVar += ulp2 * ulp2;
    // Equal values: equal codes, or +0 and -0. (x - 1) >>> 31 is 1 exactly when x == 0.
    const sameBitsAsReference = ((cs ^ cr) - 1) >>> 31;
    equalRef += sameBitsAsReference | ((((cs | cr) & 0x7fff) - 1) >>> 31);
    equalOther += (((cs ^ cp) - 1) >>> 31) | ((((cs | cp) & 0x7fff) - 1) >>> 31);
    const parentsSame = (((cr ^ cp) - 1) >>> 31) | ((((cr | cp) & 0x7fff) - 1) >>> 31);
    parentsEqual += parentsSame;
    keptBase += sameBitsAsReference & (parentsSame ^ 1);
    // Informative: |d| ≥ T·ulp(s) and d ≠ 0 (a zero threshold would admit equal parents).
    // Unary plus turns each test into 0 or 1 without a branch (a ternary compiled to one).
    const absD = d < 0 ? -d : d;
    at[informative] = i;
    informative += +(absD >= threshold[cs]!) & +(d !== 0);
  }
  if (!Number.isFinite(rr + dd + ee)) return false;
  writeAllElementSums(out, reference, [rr, rd, re, dd, de, ee], to - from, 0, floor, floorVar, equalRef, equalOther, parentsEqual, keptBase);
  accumulateInformative(suspectCodes, referenceCodes, otherCodes, at, informative, suspectTables, parentValue, profileLo, profileWidth, profileDiff, out);
  return true;
}

/**
 * `accumulateTwoParentsCodes16` for a chunk that holds non-finite values: the same sums
 * with a finiteness test per element, which excludes and counts them.
 */
export function accumulateTwoParentsCodes16Checked(
  suspectCodes: Uint16Array,
  referenceCodes: Uint16Array,
  otherCodes: Uint16Array,
  from: number,
  to: number,
  suspectTables: Codes16Tables,
  parentValue: Float64Array,
  threshold: Float64Array,
  reference: number,
  profileLo: number,
  profileWidth: number,
  profileDiff: Float64Array,
  out: ChunkSums,
): void {
  const sValue = suspectTables.value;
  const ulp2Of = suspectTables.ulp2;
  if (informativeAt.length < to - from) informativeAt = new Int32Array(to - from);
  const at = informativeAt;
  let rr = 0, rd = 0, re = 0, dd = 0, de = 0, ee = 0;
  let used = 0, nonFinite = 0, floor = 0, floorVar = 0, informative = 0;
  let equalRef = 0, equalOther = 0, parentsEqual = 0, keptBase = 0;
  for (let i = from; i < to; i++) {
    const cs = suspectCodes[i]!;
    const s = sValue[cs]!;
    const cr = referenceCodes[i]!;
    const r = parentValue[cr]!;
    const p = parentValue[otherCodes[i]!]!;
    // x - x is 0 for finite x and NaN for ±Infinity and NaN: one test for all three.
    if ((s - s) + (r - r) + (p - p) !== 0) {
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
    const ulp2 = ulp2Of[cs]!;
    floor += ulp2;
    floorVar += ulp2 * ulp2;
    if (s === r) equalRef++;
    if (s === p) equalOther++;
    if (d === 0) {
      parentsEqual++;
      continue;
    }
    if (cs === cr) keptBase++;
    const absD = d < 0 ? -d : d;
    if (absD >= threshold[cs]!) at[informative++] = i;
  }
  writeAllElementSums(out, reference, [rr, rd, re, dd, de, ee], used, nonFinite, floor, floorVar, equalRef, equalOther, parentsEqual, keptBase);
  accumulateInformative(suspectCodes, referenceCodes, otherCodes, at, informative, suspectTables, parentValue, profileLo, profileWidth, profileDiff, out);
}

/** The sums over every used element, as both kernels' first loops leave them, into `out`. */
function writeAllElementSums(
  out: ChunkSums,
  reference: number,
  [rr, rd, re, dd, de, ee]: readonly [number, number, number, number, number, number],
  used: number,
  nonFinite: number,
  floor: number,
  floorVar: number,
  equalRef: number,
  equalOther: number,
  parentsEqual: number,
  keptBase: number,
): void {
  const g = out.gram;
  g[0] = rr; g[1] = rd; g[2] = re; g[4] = dd; g[5] = de; g[8] = ee;
  out.used = used;
  out.nonFinite = nonFinite;
  out.floor = floor / 12;
  out.floorVar = floorVar / 180;
  out.equal[reference] = equalRef;
  out.equal[1 - reference] = equalOther;
  out.parentsEqual = parentsEqual;
  out.keptBase = keptBase;
}

/**
 * Both kernels' second loop, over the informative positions `at[0 … count)` (ascending):
 * the informative Gram, floor and kept-base tallies, into `out`, and each element's
 * exact-hit interval, into `profileDiff`.
 */
function accumulateInformative(
  suspectCodes: Uint16Array,
  referenceCodes: Uint16Array,
  otherCodes: Uint16Array,
  at: Int32Array,
  count: number,
  suspectTables: Codes16Tables,
  parentValue: Float64Array,
  profileLo: number,
  profileWidth: number,
  profileDiff: Float64Array,
  out: ChunkSums,
): void {
  const sValue = suspectTables.value;
  const ulp2Of = suspectTables.ulp2;
  const lowerHalfOf = suspectTables.lowerHalf;
  const upperHalfOf = suspectTables.upperHalf;
  const binsPerUnit = Math.round(1 / profileWidth);
  // Bin b's centre is lo + (b + ½)·width = (b − centreOffset)/binsPerUnit.
  const centreOffset = Math.round(-(profileLo + profileWidth / 2) * binsPerUnit);
  const lastBin = PROFILE_BINS - 1;
  let irr = 0, ird = 0, ire = 0, idd = 0, ide = 0, iee = 0;
  let informativeFloor = 0, keptBaseInformative = 0, keptBaseInformativeDd = 0;
  for (let k = 0; k < count; k++) {
    const i = at[k]!;
    const cs = suspectCodes[i]!;
    const cr = referenceCodes[i]!;
    const r = parentValue[cr]!;
    const d = parentValue[otherCodes[i]!]! - r;
    const e = sValue[cs]! - r;
    informativeFloor += ulp2Of[cs]!;
    irr += r * r;
    ird += r * d;
    ire += r * e;
    idd += d * d;
    ide += d * e;
    iee += e * e;
    if (cs === cr) {
      keptBaseInformative++;
      keptBaseInformativeDd += d * d;
    }
    // lowerHalf/upperHalf hold half the cell steps: pass the whole steps.
    addProfileInterval(profileDiff, e, 2 * lowerHalfOf[cs]!, 2 * upperHalfOf[cs]!, d, binsPerUnit, centreOffset, lastBin);
  }
  const ig = out.informativeGram;
  ig[0] = irr; ig[1] = ird; ig[2] = ire; ig[4] = idd; ig[5] = ide; ig[8] = iee;
  out.informative = count;
  out.informativeFloor = informativeFloor / 12;
  out.keptBaseInformative = keptBaseInformative;
  out.keptBaseInformativeDd = keptBaseInformativeDd;
}
