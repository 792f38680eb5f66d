// The fused two-parent kernel for 16-bit codes (BF16, F16), in AssemblyScript, compiled
// to WebAssembly by `npm run build` (dist/codes16.wasm). src/engine/accumulate-codes16.ts
// lays out the linear memory, copies each chunk's codes in and reads the sums out; it
// documents what every sum means. This file is only the arithmetic, in the order the
// float64 reference adds (test/engine/scan-tensor.test.ts checks it against that
// reference: counts and profile bins exactly, sums to float64 rounding).
//
// Memory is addressed raw (no AssemblyScript runtime objects): every argument named
// ...At is a byte offset into linear memory.

// Sum slots written at `outAt` (float64 each), as accumulate-codes16.ts reads them.
const RR = 0, RD = 1, RE = 2, DD = 3, DE = 4, EE = 5;
const USED = 6, NON_FINITE = 7, FLOOR = 8, FLOOR_VAR = 9;
const EQUAL_REF = 10, EQUAL_OTHER = 11, PARENTS_EQUAL = 12, KEPT_BASE = 13;
const IRR = 14, IRD = 15, IRE = 16, IDD = 17, IDE = 18, IEE = 19;
const INFORMATIVE = 20, INFORMATIVE_FLOOR = 21, KEPT_BASE_INFORMATIVE = 22, KEPT_BASE_INFORMATIVE_DD = 23;

// @ts-ignore: decorator
@inline function code(at: usize, i: i32): i32 {
  return <i32>load<u16>(at + (<usize>i << 1));
}

// @ts-ignore: decorator
@inline function entry(tableAt: usize, c: i32): f64 {
  return load<f64>(tableAt + (<usize>c << 3));
}

// @ts-ignore: decorator
@inline function put(outAt: usize, slot: i32, value: f64): void {
  store<f64>(outAt + (<usize>slot << 3), value);
}

/** 1 when two codes hold the same value: equal bits, or +0 and −0. */
// @ts-ignore: decorator
@inline function sameValue(a: i32, b: i32): i32 {
  return (<i32>(<u32>((a ^ b) - 1) >> 31)) | (<i32>(<u32>(((a | b) & 0x7fff) - 1) >> 31));
}

/**
 * Every element of the chunk, no branch: the Gram of [r, d, e], the floor, equality and
 * kept-base counts, and the positions of the informative elements (|d| ≥ T·ulp(s),
 * d ≠ 0) into `positionsAt`. Returns 0 when a sum is not finite (some input was NaN or
 * ±Infinity: the caller then runs `twoParentsChecked`), else 1 after the informative pass.
 */
export function twoParents(
  suspectAt: usize, referenceAt: usize, otherAt: usize, count: i32,
  valueAt: usize, ulp2At: usize, lowerHalfAt: usize, upperHalfAt: usize, parentValueAt: usize, thresholdAt: usize,
  positionsAt: usize, profileDiffAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32, outAt: usize,
): i32 {
  let rr = 0.0, rd = 0.0, re = 0.0, dd = 0.0, de = 0.0, ee = 0.0;
  let floor = 0.0, floorVar = 0.0;
  let equalRef = 0, equalOther = 0, parentsEqual = 0, keptBase = 0;
  let informative = 0;
  for (let i = 0; i < count; i++) {
    const cs = code(suspectAt, i);
    const cr = code(referenceAt, i);
    const cp = code(otherAt, i);
    const r = entry(parentValueAt, cr);
    const d = entry(parentValueAt, cp) - r;
    const e = entry(valueAt, cs) - r;
    rr += r * r;
    rd += r * d;
    re += r * e;
    dd += d * d;
    de += d * e;
    ee += e * e;
    const ulp2 = entry(ulp2At, cs);
    floor += ulp2;
    floorVar += ulp2 * ulp2;
    const sameBitsAsReference = <i32>(<u32>((cs ^ cr) - 1) >> 31);
    equalRef += sameBitsAsReference | (<i32>(<u32>(((cs | cr) & 0x7fff) - 1) >> 31));
    equalOther += sameValue(cs, cp);
    const parentsSame = sameValue(cr, cp);
    parentsEqual += parentsSame;
    keptBase += sameBitsAsReference & (parentsSame ^ 1);
    store<i32>(positionsAt + (<usize>informative << 2), i);
    informative += (<i32>(Math.abs(d) >= entry(thresholdAt, cs))) & (<i32>(d != 0));
  }
  if (!isFinite(rr + dd + ee)) return 0;
  put(outAt, RR, rr); put(outAt, RD, rd); put(outAt, RE, re);
  put(outAt, DD, dd); put(outAt, DE, de); put(outAt, EE, ee);
  put(outAt, USED, <f64>count); put(outAt, NON_FINITE, 0);
  put(outAt, FLOOR, floor / 12); put(outAt, FLOOR_VAR, floorVar / 180);
  put(outAt, EQUAL_REF, <f64>equalRef); put(outAt, EQUAL_OTHER, <f64>equalOther);
  put(outAt, PARENTS_EQUAL, <f64>parentsEqual); put(outAt, KEPT_BASE, <f64>keptBase);
  informativePass(suspectAt, referenceAt, otherAt, positionsAt, informative, valueAt, ulp2At, lowerHalfAt, upperHalfAt, parentValueAt, profileDiffAt, binsPerUnit, centreOffset, lastBin, outAt);
  return 1;
}

/** `twoParents` for a chunk holding non-finite values: such elements are counted and left out. */
export function twoParentsChecked(
  suspectAt: usize, referenceAt: usize, otherAt: usize, count: i32,
  valueAt: usize, ulp2At: usize, lowerHalfAt: usize, upperHalfAt: usize, parentValueAt: usize, thresholdAt: usize,
  positionsAt: usize, profileDiffAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32, outAt: usize,
): void {
  let rr = 0.0, rd = 0.0, re = 0.0, dd = 0.0, de = 0.0, ee = 0.0;
  let floor = 0.0, floorVar = 0.0;
  let used = 0, nonFinite = 0, informative = 0;
  let equalRef = 0, equalOther = 0, parentsEqual = 0, keptBase = 0;
  for (let i = 0; i < count; i++) {
    const cs = code(suspectAt, i);
    const cr = code(referenceAt, i);
    const s = entry(valueAt, cs);
    const r = entry(parentValueAt, cr);
    const p = entry(parentValueAt, code(otherAt, i));
    // x − x is 0 for finite x and NaN for ±Infinity and NaN.
    if ((s - s) + (r - r) + (p - p) != 0) {
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
    const ulp2 = entry(ulp2At, cs);
    floor += ulp2;
    floorVar += ulp2 * ulp2;
    if (s == r) equalRef++;
    if (s == p) equalOther++;
    if (d == 0) {
      parentsEqual++;
      continue;
    }
    if (cs == cr) keptBase++;
    if (Math.abs(d) >= entry(thresholdAt, cs)) {
      store<i32>(positionsAt + (<usize>informative << 2), i);
      informative++;
    }
  }
  put(outAt, RR, rr); put(outAt, RD, rd); put(outAt, RE, re);
  put(outAt, DD, dd); put(outAt, DE, de); put(outAt, EE, ee);
  put(outAt, USED, <f64>used); put(outAt, NON_FINITE, <f64>nonFinite);
  put(outAt, FLOOR, floor / 12); put(outAt, FLOOR_VAR, floorVar / 180);
  put(outAt, EQUAL_REF, <f64>equalRef); put(outAt, EQUAL_OTHER, <f64>equalOther);
  put(outAt, PARENTS_EQUAL, <f64>parentsEqual); put(outAt, KEPT_BASE, <f64>keptBase);
  informativePass(suspectAt, referenceAt, otherAt, positionsAt, informative, valueAt, ulp2At, lowerHalfAt, upperHalfAt, parentValueAt, profileDiffAt, binsPerUnit, centreOffset, lastBin, outAt);
}

/**
 * Over the informative positions (ascending): the informative Gram, floor and kept-base
 * tallies, and each element's exact-hit interval added to the profile's difference array
 * (float64 per bin, at `profileDiffAt`), as src/engine/accumulate-chunk.ts's
 * addProfileInterval defines it.
 */
// @ts-ignore: decorator
@inline function informativePass(
  suspectAt: usize, referenceAt: usize, otherAt: usize, positionsAt: usize, count: i32,
  valueAt: usize, ulp2At: usize, lowerHalfAt: usize, upperHalfAt: usize, parentValueAt: usize,
  profileDiffAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32, outAt: usize,
): void {
  let irr = 0.0, ird = 0.0, ire = 0.0, idd = 0.0, ide = 0.0, iee = 0.0;
  let informativeFloor = 0.0, keptBaseInformativeDd = 0.0;
  let keptBaseInformative = 0;
  const last = <f64>lastBin;
  for (let k = 0; k < count; k++) {
    const i = load<i32>(positionsAt + (<usize>k << 2));
    const cs = code(suspectAt, i);
    const cr = code(referenceAt, i);
    const r = entry(parentValueAt, cr);
    const d = entry(parentValueAt, code(otherAt, i)) - r;
    const e = entry(valueAt, cs) - r;
    informativeFloor += entry(ulp2At, cs);
    irr += r * r;
    ird += r * d;
    ire += r * e;
    idd += d * d;
    ide += d * e;
    iee += e * e;
    const keptAtBase = cs == cr;
    keptBaseInformative += <i32>keptAtBase;
    keptBaseInformativeDd += select<f64>(d * d, 0, keptAtBase);
    // The exact-hit interval: bins whose centre w has e − down/2 ≤ w·d ≤ e + up/2. For
    // d < 0 the bounds swap sign and place (selects: d's sign is a coin toss, a branch
    // on it mispredicts half the time). One division: the quotients only propose the
    // first and last bin, which the exact products then settle, so a reciprocal that
    // is off in the last bit proposes the same bins or their neighbours.
    const down = 2 * entry(lowerHalfAt, cs);
    const up = 2 * entry(upperHalfAt, cs);
    const below = binsPerUnit * (e - down / 2);
    const above = binsPerUnit * (e + up / 2);
    const negative = d < 0;
    const low = select<f64>(-above, below, negative);
    const high = select<f64>(-below, above, negative);
    const step = Math.abs(d);
    const perStep = 1 / step;
    let first = Math.ceil(low * perStep);
    if ((first - 1) * step >= low) first--;
    else if (first * step < low) first++;
    let lastN = Math.floor(high * perStep);
    if ((lastN + 1) * step <= high) lastN++;
    else if (lastN * step > high) lastN--;
    first += centreOffset;
    lastN += centreOffset;
    if (first < 0) first = 0;
    if (lastN > last) lastN = last;
    if (first <= lastN) {
      const firstAt = profileDiffAt + (<usize><i32>first << 3);
      const afterAt = profileDiffAt + (<usize>(<i32>lastN + 1) << 3);
      store<f64>(firstAt, load<f64>(firstAt) + 1);
      store<f64>(afterAt, load<f64>(afterAt) - 1);
    }
  }
  put(outAt, IRR, irr); put(outAt, IRD, ird); put(outAt, IRE, ire);
  put(outAt, IDD, idd); put(outAt, IDE, ide); put(outAt, IEE, iee);
  put(outAt, INFORMATIVE, <f64>count);
  put(outAt, INFORMATIVE_FLOOR, informativeFloor / 12);
  put(outAt, KEPT_BASE_INFORMATIVE, <f64>keptBaseInformative);
  put(outAt, KEPT_BASE_INFORMATIVE_DD, keptBaseInformativeDd);
}
