// The fused two-parent kernel for stored codes (BF16, F16, F32), in AssemblyScript, compiled
// to WebAssembly by `npm run build` (dist/kernels.wasm). src/engine/accumulate-codes16.ts
// lays out the linear memory, copies each chunk's codes in and reads the sums out; it
// documents what every sum means. This file is only the arithmetic, in the order the
// float64 reference adds (the SIMD loops add even and odd elements in two lanes);
// test/engine/scan-tensor.test.ts checks it against that reference: counts and profile
// bins exactly, sums to float64 rounding.
//
// Memory is addressed raw (no AssemblyScript runtime objects): every argument named
// ...At is a byte offset into linear memory.

// Sum slots written at `outAt` (float64 each), as accumulate-codes16.ts reads them.
const RR = 0, RD = 1, RE = 2, DD = 3, DE = 4, EE = 5;
const USED = 6, NON_FINITE = 7, FLOOR = 8, FLOOR_VAR = 9;
const EQUAL_REF = 10, EQUAL_OTHER = 11, PARENTS_EQUAL = 12, KEPT_BASE = 13;
const IRR = 14, IRD = 15, IRE = 16, IDD = 17, IDE = 18, IEE = 19;
const INFORMATIVE = 20, INFORMATIVE_FLOOR = 21, KEPT_BASE_INFORMATIVE = 22, KEPT_BASE_INFORMATIVE_DD = 23;
// The difference array's touched entries, [first, last] (first > last: none).
const TOUCHED_FIRST = 24, TOUCHED_LAST = 25;

// @ts-ignore: decorator
@inline function code(at: usize, i: i32): i32 {
  return <i32>load<u16>(at + (<usize>i << 1));
}

/** Code i of a list of 32-bit codes (`wide`) or of 16-bit ones. */
// @ts-ignore: decorator
@inline function codeOf(at: usize, i: i32, wide: bool): i32 {
  return wide ? load<i32>(at + (<usize>i << 2)) : code(at, i);
}

// @ts-ignore: decorator
@inline function entry(tableAt: usize, c: i32): f64 {
  return load<f64>(tableAt + (<usize>c << 3));
}

// @ts-ignore: decorator
@inline function put(outAt: usize, slot: i32, value: f64): void {
  store<f64>(outAt + (<usize>slot << 3), value);
}

/** The sums over every used element, as each kernel's first loop leaves them. */
// @ts-ignore: decorator
@inline function putAllElementSums(
  outAt: usize, rr: f64, rd: f64, re: f64, dd: f64, de: f64, ee: f64, used: i32, nonFinite: i32,
  floor: f64, floorVar: f64, equalRef: i32, equalOther: i32, parentsEqual: i32, keptBase: i32,
): void {
  put(outAt, RR, rr); put(outAt, RD, rd); put(outAt, RE, re);
  put(outAt, DD, dd); put(outAt, DE, de); put(outAt, EE, ee);
  put(outAt, USED, <f64>used); put(outAt, NON_FINITE, <f64>nonFinite);
  put(outAt, FLOOR, floor / 12); put(outAt, FLOOR_VAR, floorVar / 180);
  put(outAt, EQUAL_REF, <f64>equalRef); put(outAt, EQUAL_OTHER, <f64>equalOther);
  put(outAt, PARENTS_EQUAL, <f64>parentsEqual); put(outAt, KEPT_BASE, <f64>keptBase);
}

/** The sums over the informative elements, as each kernel's second loop leaves them. */
// @ts-ignore: decorator
@inline function putInformativeSums(
  outAt: usize, irr: f64, ird: f64, ire: f64, idd: f64, ide: f64, iee: f64,
  informative: i32, informativeFloor: f64, keptBaseInformative: i32, keptBaseInformativeDd: f64,
): void {
  put(outAt, IRR, irr); put(outAt, IRD, ird); put(outAt, IRE, ire);
  put(outAt, IDD, idd); put(outAt, IDE, ide); put(outAt, IEE, iee);
  put(outAt, INFORMATIVE, <f64>informative);
  put(outAt, INFORMATIVE_FLOOR, informativeFloor / 12);
  put(outAt, KEPT_BASE_INFORMATIVE, <f64>keptBaseInformative);
  put(outAt, KEPT_BASE_INFORMATIVE_DD, keptBaseInformativeDd);
  put(outAt, TOUCHED_FIRST, <f64>touchedFirst);
  put(outAt, TOUCHED_LAST, <f64>touchedAfter);
}

/** 1 when two codes hold the same value: equal bits, or +0 and −0. */
// @ts-ignore: decorator
@inline function sameValue(a: i32, b: i32): i32 {
  return (<i32>(<u32>((a ^ b) - 1) >> 31)) | (<i32>(<u32>(((a | b) & 0x7fff) - 1) >> 31));
}

/**
 * The two-parent kernel in SIMD for the codes of `format` (BF16 0, F16 1, F32 2), in the suspect
 * and both parents alike, with the compaction table for its width (`compactTableAt`:
 * `buildCompactTable` for 2- or 4-byte lanes): one loop per
 * format (`twoParentsSimd`). Returns 0 when the chunk must be redone by the checked kernel.
 */
export function twoParentsFused(
  format: i32, suspectAt: usize, referenceAt: usize, otherAt: usize, count: i32, informativeUlps: f64,
  compactAt: usize, compactStride: usize, profileDiffAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32, outAt: usize,
  intervalTableAt: usize, compactTableAt: usize,
): i32 {
  if (format == F16_CODES) {
    return twoParentsSimd(
      suspectAt, referenceAt, otherAt, count, informativeUlps, compactAt, compactStride, profileDiffAt, binsPerUnit, centreOffset, lastBin, outAt,
      intervalTableAt, compactTableAt, F16_CODES,
    );
  }
  if (format == F32_CODES) {
    return twoParentsSimd(
      suspectAt, referenceAt, otherAt, count, informativeUlps, compactAt, compactStride, profileDiffAt, binsPerUnit, centreOffset, lastBin, outAt,
      intervalTableAt, compactTableAt, F32_CODES,
    );
  }
  return twoParentsSimd(
    suspectAt, referenceAt, otherAt, count, informativeUlps, compactAt, compactStride, profileDiffAt, binsPerUnit, centreOffset, lastBin, outAt,
    intervalTableAt, compactTableAt, BF16_CODES,
  );
}

/**
 * `twoParentsFused` for BF16, F16 or F32 codes (`format`, a constant in each caller, so each
 * gets a loop of its own), in SIMD: eight 16-bit codes at a time, or four F32 codes.
 * Values and ulps come from the bits, with no table (`floatBits`): an F32 code is a
 * float32; a bf16 code is the top half of one; an f16 code's bits, moved under a
 * float32's exponent field, are its value times 2^−112, subnormals included. The F16
 * loops work on values so scaled, exactly (a power of two, with no product or sum near
 * float64's subnormals), and scale the sums back at the end (`F16_SUM_SCALE`). ulp(s) is
 * 2^(max(E, 1) − ULP_BIAS) for the exponent field E in the loops' scale (BF16: 134;
 * F16: 137 = 25 + 112; F32: 150). Equality and kept-base counts run on all the codes
 * of a load at once (16-bit lanes widened into i32 sums every COUNT_BLOCK groups); the
 * float sums on pairs (f64x2: lane 0 sums the even elements, lane 1 the odd, added at
 * the end). The threshold T·ulp(s) equals the table's T·ulp (the cell's larger side)
 * exactly. The informative lanes' codes are appended to the compact lists: one
 * `i8x16.swizzle` per input by the pattern of the load's informative mask, one 16-byte
 * store, the count advancing by the mask's popcount. A code with every exponent bit set
 * (NaN, ±Infinity) sends the chunk back to the caller, which redoes it with the checked
 * kernel (`twoParentsChecked`, `twoParentsCheckedF32`): a bf16 or f32 one makes a sum not finite; an f16 one is
 * looked for (its bits so moved would be a finite float32).
 */
// @ts-ignore: decorator
@inline function twoParentsSimd(
  suspectAt: usize, referenceAt: usize, otherAt: usize, count: i32, informativeUlps: f64,
  compactAt: usize, compactStride: usize, profileDiffAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32, outAt: usize,
  intervalTableAt: usize, compactTableAt: usize, format: i32,
): i32 {
  const wide = format == F32_CODES;
  // Codes per load, and halves of i32 lanes they widen to.
  const group = wide ? 4 : 8;
  const halves = wide ? 1 : 2;
  const codeShift: usize = wide ? 2 : 1;
  const compactSAt = compactAt, compactRAt = compactAt + compactStride, compactPAt = compactAt + 2 * compactStride;
  const zeroLanes = i32x4.splat(0);
  const exponentBits16 = i16x8.splat(<i16>F16_EXPONENT_BITS);
  const exponentMask = i32x4.splat(exponentMaskOf(format));
  const one32 = i32x4.splat(1);
  const ulpBias = i32x4.splat(1023 - ulpBiasOf(format));
  let notFinite16 = zeroLanes;
  const zero = f64x2.splat(0);
  const threshold = f64x2.splat(informativeUlps);
  let rr = zero, rd = zero, re = zero, dd = zero, de = zero, ee = zero;
  let floor = zero, floorVar = zero;
  let equalRef = zeroLanes, equalOther = zeroLanes, parentsEqual = zeroLanes, keptBase = zeroLanes;
  let informative = 0;
  let i = 0;
  const whole = count & ~(group - 1);
  while (i < whole) {
    // 16-bit codes count on i16 lanes (one −1 per equal element) for at most COUNT_BLOCK
    // groups of eight, less than 32,768 per lane, then widen into the i32 sums; F32 codes
    // count on the i32 lanes themselves.
    const blockEnd = min(whole, i + COUNT_BLOCK * group);
    let equalRefBlock = zeroLanes, equalOtherBlock = zeroLanes, parentsEqualBlock = zeroLanes, keptBaseBlock = zeroLanes;
    for (; i < blockEnd; i += group) {
      const vs = v128.load(suspectAt + (<usize>i << codeShift));
      const vr = v128.load(referenceAt + (<usize>i << codeShift));
      const vp = v128.load(otherAt + (<usize>i << codeShift));
      // Equal values: equal codes, or +0 and −0. Masks are −1 per lane; the sums subtract.
      const sameBitsAsReference = lanesEqual(vs, vr, wide);
      const sameAsReference = v128.or(sameBitsAsReference, lanesZero(v128.or(vs, vr), wide));
      const sameAsOther = v128.or(lanesEqual(vs, vp, wide), lanesZero(v128.or(vs, vp), wide));
      const parentsSame = v128.or(lanesEqual(vr, vp, wide), lanesZero(v128.or(vr, vp), wide));
      equalRefBlock = lanesAdd(equalRefBlock, sameAsReference, wide);
      equalOtherBlock = lanesAdd(equalOtherBlock, sameAsOther, wide);
      parentsEqualBlock = lanesAdd(parentsEqualBlock, parentsSame, wide);
      keptBaseBlock = lanesAdd(keptBaseBlock, v128.andnot(sameBitsAsReference, parentsSame), wide);
      if (format == F16_CODES) {
        notFinite16 = v128.or(notFinite16, v128.or(
          i16x8.eq(v128.and(vs, exponentBits16), exponentBits16),
          v128.or(i16x8.eq(v128.and(vr, exponentBits16), exponentBits16), i16x8.eq(v128.and(vp, exponentBits16), exponentBits16)),
        ));
      }
      let mask = 0;
      for (let half = 0; half < halves; half++) {
        const cs = codesInLanes(vs, half, wide);
        const cr = codesInLanes(vr, half, wide);
        const cp = codesInLanes(vp, half, wide);
        const s4 = floatBits(cs, format);
        const r4 = floatBits(cr, format);
        const p4 = floatBits(cp, format);
        const exponent = i32x4.add(i32x4.max_s(v128.and(i32x4.shr_u(cs, fractionBits(format)), exponentMask), one32), ulpBias);
        for (let pair = 0; pair < 2; pair++) {
          const sv = widenedPair(s4, pair);
          const r = widenedPair(r4, pair);
          const pv = widenedPair(p4, pair);
          const ulp = powerOfTwoPair(exponent, pair);
          const d = f64x2.sub(pv, r);
          const e = f64x2.sub(sv, r);
          rr = f64x2.add(rr, f64x2.mul(r, r));
          rd = f64x2.add(rd, f64x2.mul(r, d));
          re = f64x2.add(re, f64x2.mul(r, e));
          dd = f64x2.add(dd, f64x2.mul(d, d));
          de = f64x2.add(de, f64x2.mul(d, e));
          ee = f64x2.add(ee, f64x2.mul(e, e));
          const ulp2 = f64x2.mul(ulp, ulp);
          floor = f64x2.add(floor, ulp2);
          floorVar = f64x2.add(floorVar, f64x2.mul(ulp2, ulp2));
          mask |= i64x2.bitmask(f64x2.ge(f64x2.abs(d), f64x2.mul(threshold, ulp))) << (half * 4 + pair * 2);
        }
      }
      // d ≠ 0 exactly when the parents' values differ: their codes differ, and are not +0
      // and −0 (for a finite chunk; a non-finite one is redone by the checked kernel).
      mask &= ~(wide ? i32x4.bitmask(parentsSame) : i16x8.bitmask(parentsSame));
      // The informative lanes' codes, moved to the front and appended to the compact lists
      // (16 bytes written, the count advancing by the informative lanes' number).
      const pattern = v128.load(compactTableAt + (<usize>mask << 4));
      const to = <usize>informative << codeShift;
      v128.store(compactSAt + to, i8x16.swizzle(vs, pattern));
      v128.store(compactRAt + to, i8x16.swizzle(vr, pattern));
      v128.store(compactPAt + to, i8x16.swizzle(vp, pattern));
      informative += popcnt<i32>(mask);
    }
    equalRef = i32x4.add(equalRef, widenedCounts(equalRefBlock, wide));
    equalOther = i32x4.add(equalOther, widenedCounts(equalOtherBlock, wide));
    parentsEqual = i32x4.add(parentsEqual, widenedCounts(parentsEqualBlock, wide));
    keptBase = i32x4.add(keptBase, widenedCounts(keptBaseBlock, wide));
  }
  let rrSum = f64x2.extract_lane(rr, 0) + f64x2.extract_lane(rr, 1);
  let rdSum = f64x2.extract_lane(rd, 0) + f64x2.extract_lane(rd, 1);
  let reSum = f64x2.extract_lane(re, 0) + f64x2.extract_lane(re, 1);
  let ddSum = f64x2.extract_lane(dd, 0) + f64x2.extract_lane(dd, 1);
  let deSum = f64x2.extract_lane(de, 0) + f64x2.extract_lane(de, 1);
  let eeSum = f64x2.extract_lane(ee, 0) + f64x2.extract_lane(ee, 1);
  let floorSum = f64x2.extract_lane(floor, 0) + f64x2.extract_lane(floor, 1);
  let floorVarSum = f64x2.extract_lane(floorVar, 0) + f64x2.extract_lane(floorVar, 1);
  let equalRefSum = -laneSum(equalRef), equalOtherSum = -laneSum(equalOther);
  let parentsEqualSum = -laneSum(parentsEqual), keptBaseSum = -laneSum(keptBase);
  if (format == F16_CODES && v128.any_true(notFinite16)) return 0;
  // The last count % 8 (F32: % 4) elements, one at a time, with the same arithmetic.
  for (; i < count; i++) {
    const cs = codeOf(suspectAt, i, wide);
    const cr = codeOf(referenceAt, i, wide);
    const cp = codeOf(otherAt, i, wide);
    if (format == F16_CODES && (notFiniteF16(cs) | notFiniteF16(cr) | notFiniteF16(cp))) return 0;
    const r = codeValue(cr, format);
    const d = codeValue(cp, format) - r;
    const e = codeValue(cs, format) - r;
    rrSum += r * r;
    rdSum += r * d;
    reSum += r * e;
    ddSum += d * d;
    deSum += d * e;
    eeSum += e * e;
    const ulp = codeUlp(cs, format);
    const ulp2 = ulp * ulp;
    floorSum += ulp2;
    floorVarSum += ulp2 * ulp2;
    const sameBitsAsReference = <i32>(cs == cr);
    equalRefSum += sameValueOf(cs, cr, wide);
    equalOtherSum += sameValueOf(cs, cp, wide);
    const parentsSame = sameValueOf(cr, cp, wide);
    parentsEqualSum += parentsSame;
    keptBaseSum += sameBitsAsReference & (parentsSame ^ 1);
    const to = <usize>informative << codeShift;
    if (wide) {
      store<i32>(compactSAt + to, cs);
      store<i32>(compactRAt + to, cr);
      store<i32>(compactPAt + to, cp);
    } else {
      store<u16>(compactSAt + to, cs);
      store<u16>(compactRAt + to, cr);
      store<u16>(compactPAt + to, cp);
    }
    informative += (<i32>(Math.abs(d) >= informativeUlps * ulp)) & (<i32>(d != 0));
  }
  if (!isFinite(rrSum + ddSum + eeSum)) return 0;
  // F16: back from the loops' scale (squares scale by F16_SUM_SCALE, fourth powers by its square).
  const scale = format == F16_CODES ? F16_SUM_SCALE : 1.0;
  putAllElementSums(
    outAt, rrSum * scale, rdSum * scale, reSum * scale, ddSum * scale, deSum * scale, eeSum * scale, count, 0,
    floorSum * scale, floorVarSum * scale * scale, equalRefSum, equalOtherSum, parentsEqualSum, keptBaseSum,
  );
  informativePassSimd(compactSAt, compactRAt, compactPAt, informative, profileDiffAt, binsPerUnit, centreOffset, lastBin, outAt, intervalTableAt, format);
  return 1;
}

/**
 * The recipe pass's direct residual over `count` F32 codes of a suspect and two parents
 * (src/engine/recipes/recipe-pass.ts defines it element by element): the residual
 * s − r − w·(p − r) at the other parent's weight `w`, its squares summed (two lanes,
 * then the tail); the informative elements (p ≠ r, |p − r| ≥ T·ulp(s)) and those whose
 * residual lies in the suspect's rounding cell, [−above/2, below/2] (reproduced).
 * Writes used, rss, informative and reproduced at `outAt` (float64 each) and returns 1;
 * returns 0 when some input is NaN or infinite (a sum is then not finite), and the
 * caller takes that chunk element by element.
 */
export function residualF32(
  suspectAt: usize, referenceAt: usize, otherAt: usize, count: i32, weight: f64, informativeUlps: f64, outAt: usize,
): i32 {
  const exponentMask = i32x4.splat(0xff);
  const fractionMask = i32x4.splat(0x7fffff);
  const zero32 = i32x4.splat(0);
  const one32 = i32x4.splat(1);
  const ulpBias = i32x4.splat(1023 - F32_ULP_BIAS);
  const w = f64x2.splat(weight);
  const threshold = f64x2.splat(informativeUlps);
  const half = f64x2.splat(0.5);
  const one = f64x2.splat(1);
  const zero = f64x2.splat(0);
  let rss = zero;
  let informative = 0, reproduced = 0;
  let i = 0;
  const whole = count & ~3;
  for (; i < whole; i += 4) {
    const vs = v128.load(suspectAt + (<usize>i << 2));
    const vr = v128.load(referenceAt + (<usize>i << 2));
    const vp = v128.load(otherAt + (<usize>i << 2));
    const field = v128.and(i32x4.shr_u(vs, 23), exponentMask);
    const exponent = i32x4.add(i32x4.max_s(field, one32), ulpBias);
    const powerOfTwo = v128.and(i32x4.eq(v128.and(vs, fractionMask), zero32), i32x4.gt_s(field, one32));
    const negative32 = i32x4.lt_s(vs, zero32);
    let informativeMask = 0, reproducedMask = 0;
    for (let pair = 0; pair < 2; pair++) {
      const sv = widenedPair(vs, pair);
      const r = widenedPair(vr, pair);
      const pv = widenedPair(vp, pair);
      const ulp = powerOfTwoPair(exponent, pair);
      const d = f64x2.sub(pv, r);
      const residual = f64x2.sub(f64x2.sub(sv, r), f64x2.mul(w, d));
      rss = f64x2.add(rss, f64x2.mul(residual, residual));
      // The cell: above = ulp and below = the near-zero step for a positive s; mirrored for a negative one.
      const fine = v128.bitselect(half, one, pair == 0 ? i64x2.extend_low_i32x4_s(powerOfTwo) : i64x2.extend_high_i32x4_s(powerOfTwo));
      const nearZeroStep = f64x2.mul(ulp, fine);
      const negative = pair == 0 ? i64x2.extend_low_i32x4_s(negative32) : i64x2.extend_high_i32x4_s(negative32);
      const above = v128.bitselect(nearZeroStep, ulp, negative);
      const below = v128.bitselect(ulp, nearZeroStep, negative);
      const absD = f64x2.abs(d);
      const isInformative = v128.and(f64x2.ne(d, zero), f64x2.ge(absD, f64x2.mul(threshold, ulp)));
      const inCell = v128.and(f64x2.le(residual, f64x2.mul(below, half)), f64x2.ge(residual, f64x2.neg(f64x2.mul(above, half))));
      informativeMask |= i64x2.bitmask(isInformative) << (pair * 2);
      reproducedMask |= i64x2.bitmask(v128.and(isInformative, inCell)) << (pair * 2);
    }
    informative += popcnt<i32>(informativeMask);
    reproduced += popcnt<i32>(reproducedMask);
  }
  let rssSum = f64x2.extract_lane(rss, 0) + f64x2.extract_lane(rss, 1);
  for (; i < count; i++) {
    const cs = codeOf(suspectAt, i, true);
    const s = codeValue(cs, F32_CODES);
    const r = codeValue(codeOf(referenceAt, i, true), F32_CODES);
    const d = codeValue(codeOf(otherAt, i, true), F32_CODES) - r;
    const residual = s - r - weight * d;
    rssSum += residual * residual;
    const ulp = codeUlp(cs, F32_CODES);
    const nearZeroStep = ulp * fineSide(cs, F32_CODES);
    const above = cs < 0 ? nearZeroStep : ulp;
    const below = cs < 0 ? ulp : nearZeroStep;
    const isInformative = d != 0 && Math.abs(d) >= informativeUlps * ulp;
    informative += <i32>isInformative;
    reproduced += <i32>(isInformative && residual <= below / 2 && residual >= -above / 2);
  }
  if (!isFinite(rssSum)) return 0;
  put(outAt, 0, <f64>count);
  put(outAt, 1, rssSum);
  put(outAt, 2, <f64>informative);
  put(outAt, 3, <f64>reproduced);
  return 1;
}

/** Half `half` of a load's 16-bit codes zero-extended to i32 lanes; a load of F32 codes (`wide`) as it is. */
// @ts-ignore: decorator
@inline function codesInLanes(codes: v128, half: i32, wide: bool): v128 {
  return wide ? codes : half == 0 ? i32x4.extend_low_i16x8_u(codes) : i32x4.extend_high_i16x8_u(codes);
}

/** Lane masks (−1 where equal) of 16-bit lanes, or of 32-bit ones (`wide`). */
// @ts-ignore: decorator
@inline function lanesEqual(a: v128, b: v128, wide: bool): v128 {
  return wide ? i32x4.eq(a, b) : i16x8.eq(a, b);
}

/** Lane masks of the lanes holding ±0 (no bit set but the sign). */
// @ts-ignore: decorator
@inline function lanesZero(x: v128, wide: bool): v128 {
  return wide ? i32x4.eq(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0)) : i16x8.eq(v128.and(x, i16x8.splat(0x7fff)), i16x8.splat(0));
}

// @ts-ignore: decorator
@inline function lanesAdd(a: v128, b: v128, wide: bool): v128 {
  return wide ? i32x4.add(a, b) : i16x8.add(a, b);
}

/** A block's counts on i32 lanes: 16-bit lanes added pairwise, 32-bit ones as they are. */
// @ts-ignore: decorator
@inline function widenedCounts(counts: v128, wide: bool): v128 {
  return wide ? counts : i32x4.extadd_pairwise_i16x8_s(counts);
}

/** 1 when two codes hold the same value: equal bits, or +0 and −0 (16-bit codes, or F32 ones). */
// @ts-ignore: decorator
@inline function sameValueOf(a: i32, b: i32, wide: bool): i32 {
  return wide ? <i32>(a == b || ((a | b) & 0x7fffffff) == 0) : sameValue(a, b);
}

/**
 * `informativePass` for BF16, F16 or F32 codes (`format`), over the informative elements' codes as the first loop
 * compacted them (`sAt`, `rAt`, `pAt`: the suspect's, reference's and other parent's,
 * in element order): eight at a time (F32: four), loaded and widened like the first loop's, the
 * float sums on pairs (f64x2), values and cells from the bits: ulp = 2^(max(E, 1) − ULP_BIAS);
 * an exact power of two (fraction 0, E > 1) has a grid twice as fine on its side nearer
 * zero. Each exact-hit interval comes from the interval table (`buildIntervalTable`)
 * when both elements of a pair have e and d small integers in ulps of s, else from the
 * scalar pass's arithmetic, with selects for its corrections (the first can only step
 * down when the second would not step up). The last count % 8 (F32: % 4) elements go one by one.
 */
// @ts-ignore: decorator
@inline function informativePassSimd(
  sAt: usize, rAt: usize, pAt: usize, count: i32,
  profileDiffAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32, outAt: usize,
  intervalTableAt: usize, format: i32,
): void {
  clearTouched();
  // F32 codes fill an i32 lane each: four per load, one quad; 16-bit codes eight, two quads.
  const wide = format == F32_CODES;
  const step = wide ? 4 : 8;
  const quads = wide ? 1 : 2;
  const codeShift: usize = wide ? 2 : 1;
  const keyLimit = f64x2.splat(<f64>INTERVAL_KEY_LIMIT);
  const keySpan = f64x2.splat(<f64>INTERVAL_KEY_SPAN);
  const zero = f64x2.splat(0);
  const one = f64x2.splat(1);
  const half = f64x2.splat(0.5);
  const perUnit = f64x2.splat(binsPerUnit);
  const offset = f64x2.splat(centreOffset);
  const lastBinV = f64x2.splat(<f64>lastBin);
  const zero32 = i32x4.splat(0);
  const one32 = i32x4.splat(1);
  const exponentMask = i32x4.splat(exponentMaskOf(format));
  const fractionMask = i32x4.splat((1 << fractionBits(format)) - 1);
  const ulpBias = i32x4.splat(1023 - ulpBiasOf(format));
  const perUlpBias = i32x4.splat(1023 + ulpBiasOf(format));
  let irr = zero, ird = zero, ire = zero, idd = zero, ide = zero, iee = zero;
  let informativeFloor = zero, keptBaseInformativeDd = zero;
  let keptCount = zero32;
  let k = 0;
  for (; k + step <= count; k += step) {
    const vs = v128.load(sAt + (<usize>k << codeShift));
    const vr = v128.load(rAt + (<usize>k << codeShift));
    const vp = v128.load(pAt + (<usize>k << codeShift));
    for (let quad = 0; quad < quads; quad++) {
      const cs = codesInLanes(vs, quad, wide);
      const cr = codesInLanes(vr, quad, wide);
      const cp = codesInLanes(vp, quad, wide);
      const s4 = floatBits(cs, format);
      const r4 = floatBits(cr, format);
      const p4 = floatBits(cp, format);
      const field = v128.and(i32x4.shr_u(cs, fractionBits(format)), exponentMask);
      const normalField = i32x4.max_s(field, one32);
      const ulpExponent = i32x4.add(normalField, ulpBias);
      const perUlpExponent = i32x4.sub(perUlpBias, normalField);
      // An exact power of two above the first normal binade (the finer side nearer zero).
      const powerOfTwo = v128.and(i32x4.eq(v128.and(cs, fractionMask), zero32), i32x4.gt_s(field, one32));
      // The cell's case (CELL_CASES): 0 sides equal, 1 + the sign bit at a power of two.
      const cellCase = v128.and(i32x4.add(i32x4.shr_u(cs, signBit(format)), one32), powerOfTwo);
      const negative32 = i32x4.ne(i32x4.shr_u(cs, signBit(format)), zero32);
      const kept32 = i32x4.eq(cs, cr);
      keptCount = i32x4.sub(keptCount, kept32);
      for (let pair = 0; pair < 2; pair++) {
        const sv = widenedPair(s4, pair);
        const r = widenedPair(r4, pair);
        const pv = widenedPair(p4, pair);
        const ulp = powerOfTwoPair(ulpExponent, pair);
        const perUlp = powerOfTwoPair(perUlpExponent, pair);
        const kept = pair == 0 ? i64x2.extend_low_i32x4_s(kept32) : i64x2.extend_high_i32x4_s(kept32);
        const d = f64x2.sub(pv, r);
        const e = f64x2.sub(sv, r);
        informativeFloor = f64x2.add(informativeFloor, f64x2.mul(ulp, ulp));
        irr = f64x2.add(irr, f64x2.mul(r, r));
        ird = f64x2.add(ird, f64x2.mul(r, d));
        ire = f64x2.add(ire, f64x2.mul(r, e));
        idd = f64x2.add(idd, f64x2.mul(d, d));
        ide = f64x2.add(ide, f64x2.mul(d, e));
        iee = f64x2.add(iee, f64x2.mul(e, e));
        keptBaseInformativeDd = f64x2.add(keptBaseInformativeDd, v128.and(f64x2.mul(d, d), kept));
        // In units of ulp(s) (a power of two: exact), e and d are usually small integers;
        // then the interval depends on them and the cell's case alone, and comes from a
        // table built with the same arithmetic (scaling by a power of two changes no
        // rounding). Otherwise, the arithmetic itself.
        const eUlps = f64x2.mul(e, perUlp);
        const dUlps = f64x2.mul(d, perUlp);
        const tabulated = v128.and(
          v128.and(f64x2.eq(eUlps, f64x2.nearest(eUlps)), f64x2.eq(dUlps, f64x2.nearest(dUlps))),
          v128.and(f64x2.le(f64x2.abs(eUlps), keyLimit), f64x2.le(f64x2.abs(dUlps), keyLimit)),
        );
        if (i64x2.all_true(tabulated)) {
          const keys = i32x4.trunc_sat_f64x2_s_zero(f64x2.add(f64x2.mul(eUlps, keySpan), dUlps));
          addTabulated(profileDiffAt, intervalTableAt, i32x4.extract_lane(keys, 0), pair == 0 ? i32x4.extract_lane(cellCase, 0) : i32x4.extract_lane(cellCase, 2));
          addTabulated(profileDiffAt, intervalTableAt, i32x4.extract_lane(keys, 1), pair == 0 ? i32x4.extract_lane(cellCase, 1) : i32x4.extract_lane(cellCase, 3));
          continue;
        }
        // The cell's step on the side nearer zero: half the ulp at an exact power of two.
        const fine = v128.bitselect(half, one, pair == 0 ? i64x2.extend_low_i32x4_s(powerOfTwo) : i64x2.extend_high_i32x4_s(powerOfTwo));
        const nearZeroStep = f64x2.mul(ulp, fine);
        const negativeSuspect = pair == 0 ? i64x2.extend_low_i32x4_s(negative32) : i64x2.extend_high_i32x4_s(negative32);
        // Positive s: above = ulp, below = the near-zero step; negative s: the other way round.
        const up = v128.bitselect(nearZeroStep, ulp, negativeSuspect);
        const down = v128.bitselect(ulp, nearZeroStep, negativeSuspect);
        const below = f64x2.mul(perUnit, f64x2.sub(e, f64x2.mul(down, half)));
        const above = f64x2.mul(perUnit, f64x2.add(e, f64x2.mul(up, half)));
        const negative = f64x2.lt(d, zero);
        const low = v128.bitselect(f64x2.neg(above), below, negative);
        const high = v128.bitselect(f64x2.neg(below), above, negative);
        const step = f64x2.abs(d);
        const perStep = f64x2.div(one, step);
        let first = f64x2.ceil(f64x2.mul(low, perStep));
        first = f64x2.add(
          f64x2.sub(first, v128.and(f64x2.ge(f64x2.mul(f64x2.sub(first, one), step), low), one)),
          v128.and(f64x2.lt(f64x2.mul(first, step), low), one),
        );
        let last = f64x2.floor(f64x2.mul(high, perStep));
        last = f64x2.sub(
          f64x2.add(last, v128.and(f64x2.le(f64x2.mul(f64x2.add(last, one), step), high), one)),
          v128.and(f64x2.gt(f64x2.mul(last, step), high), one),
        );
        first = f64x2.max(f64x2.add(first, offset), zero);
        last = f64x2.min(f64x2.add(last, offset), lastBinV);
        addInterval(profileDiffAt, f64x2.extract_lane(first, 0), f64x2.extract_lane(last, 0));
        addInterval(profileDiffAt, f64x2.extract_lane(first, 1), f64x2.extract_lane(last, 1));
      }
    }
  }
  let irrSum = f64x2.extract_lane(irr, 0) + f64x2.extract_lane(irr, 1);
  let irdSum = f64x2.extract_lane(ird, 0) + f64x2.extract_lane(ird, 1);
  let ireSum = f64x2.extract_lane(ire, 0) + f64x2.extract_lane(ire, 1);
  let iddSum = f64x2.extract_lane(idd, 0) + f64x2.extract_lane(idd, 1);
  let ideSum = f64x2.extract_lane(ide, 0) + f64x2.extract_lane(ide, 1);
  let ieeSum = f64x2.extract_lane(iee, 0) + f64x2.extract_lane(iee, 1);
  let floorSum = f64x2.extract_lane(informativeFloor, 0) + f64x2.extract_lane(informativeFloor, 1);
  let keptDdSum = f64x2.extract_lane(keptBaseInformativeDd, 0) + f64x2.extract_lane(keptBaseInformativeDd, 1);
  let keptBaseInformative = laneSum(keptCount);
  for (; k < count; k++) {
    const cs = codeOf(sAt, k, wide);
    const cr = codeOf(rAt, k, wide);
    const r = codeValue(cr, format);
    const d = codeValue(codeOf(pAt, k, wide), format) - r;
    const e = codeValue(cs, format) - r;
    const ulp = codeUlp(cs, format);
    const nearZeroStep = ulp * fineSide(cs, format);
    const negativeSuspect = (cs >>> signBit(format)) != 0;
    floorSum += ulp * ulp;
    irrSum += r * r;
    irdSum += r * d;
    ireSum += r * e;
    iddSum += d * d;
    ideSum += d * e;
    ieeSum += e * e;
    keptBaseInformative += <i32>(cs == cr);
    keptDdSum += select<f64>(d * d, 0, cs == cr);
    scalarInterval(profileDiffAt, e, negativeSuspect ? ulp : nearZeroStep, negativeSuspect ? nearZeroStep : ulp, d, binsPerUnit, centreOffset, <f64>lastBin);
  }
  const scale = format == F16_CODES ? F16_SUM_SCALE : 1.0;
  putInformativeSums(
    outAt, irrSum * scale, irdSum * scale, ireSum * scale, iddSum * scale, ideSum * scale, ieeSum * scale, count,
    floorSum * scale, keptBaseInformative, keptDdSum * scale,
  );
}

/** The code formats of the SIMD loops: a constant wherever a function taking one is inlined. */
const BF16_CODES = 0, F16_CODES = 1, F32_CODES = 2;
/** The exponent field's bits of an F16 code. */
const F16_EXPONENT_BITS = 0x7c00;
/** ulp = 2^(max(E, 1) − ULP_BIAS) for the exponent field E, F16's in the loops' scale (2^−112). */
const BF16_ULP_BIAS = 134;
const F16_ULP_BIAS = 25 + 112;
const F32_ULP_BIAS = 150;
/** 2^224: an F16 loop's sums of squares over the true ones (its values are the true ones × 2^−112). */
const F16_SUM_SCALE: f64 = reinterpret<f64>(<i64>(1023 + 224) << 52);

/** Fraction bits below the exponent field. */
// @ts-ignore: decorator
@inline function fractionBits(format: i32): i32 {
  return format == F32_CODES ? 23 : format == F16_CODES ? 10 : 7;
}

/** The exponent field's mask, once shifted down. */
// @ts-ignore: decorator
@inline function exponentMaskOf(format: i32): i32 {
  return format == F16_CODES ? 0x1f : 0xff;
}

// @ts-ignore: decorator
@inline function ulpBiasOf(format: i32): i32 {
  return format == F32_CODES ? F32_ULP_BIAS : format == F16_CODES ? F16_ULP_BIAS : BF16_ULP_BIAS;
}

/** The sign bit's place in a code. */
// @ts-ignore: decorator
@inline function signBit(format: i32): i32 {
  return format == F32_CODES ? 31 : 15;
}

/**
 * The codes in the i32 lanes of `c4` (16-bit ones zero-extended) as float32 bits: an F32
 * code is one; a bf16 code is the top half of one. An f16 code shifted to the top and
 * back by 3 (arithmetic) has its exponent field under the float32's lowest five exponent
 * bits and its fraction under the float32's; masking the sign's copies leaves the f16
 * value × 2^−112 for every finite code (a normal f16 a normal float32, a subnormal a
 * subnormal).
 */
// @ts-ignore: decorator
@inline function floatBits(c4: v128, format: i32): v128 {
  if (format == F32_CODES) return c4;
  if (format == BF16_CODES) return i32x4.shl(c4, 16);
  return v128.and(i32x4.shr_s(i32x4.shl(c4, 16), 3), i32x4.splat(0x8fffffff));
}

/** Float32 lanes 2·pair and 2·pair + 1 of `x4` (`floatBits`) as float64: the loops' values, two at a time. */
// @ts-ignore: decorator
@inline function widenedPair(x4: v128, pair: i32): v128 {
  return f64x2.promote_low_f32x4(pair == 0 ? x4 : i64x2.shuffle(x4, x4, 1, 0));
}

/** 2^(e − 1023) for the biased float64 exponents e in i32 lanes 2·pair and 2·pair + 1 of `exponents`. */
// @ts-ignore: decorator
@inline function powerOfTwoPair(exponents: v128, pair: i32): v128 {
  return i64x2.shl(pair == 0 ? i64x2.extend_low_i32x4_s(exponents) : i64x2.extend_high_i32x4_s(exponents), 52);
}

/** The exponent field of a code. */
// @ts-ignore: decorator
@inline function exponentField(c: i32, format: i32): i32 {
  return (c >>> fractionBits(format)) & exponentMaskOf(format);
}

/** The value of a code as the SIMD loops take it (`floatBits`; F16's × 2^−112). */
// @ts-ignore: decorator
@inline function codeValue(c: i32, format: i32): f64 {
  if (format == F32_CODES) return <f64>reinterpret<f32>(c);
  if (format == BF16_CODES) return <f64>reinterpret<f32>(c << 16);
  return <f64>reinterpret<f32>(((c << 16) >> 3) & 0x8fffffff);
}

/** 1 for an F16 NaN or ±Infinity. */
// @ts-ignore: decorator
@inline function notFiniteF16(c: i32): i32 {
  return <i32>((c & F16_EXPONENT_BITS) == F16_EXPONENT_BITS);
}

/** ulp(s) in the loops' scale: 2^(max(E, 1) − ULP_BIAS). */
// @ts-ignore: decorator
@inline function codeUlp(c: i32, format: i32): f64 {
  return reinterpret<f64>(<i64>(max(exponentField(c, format), 1) + 1023 - ulpBiasOf(format)) << 52);
}

/** An exact power of two above the first normal binade: its grid is twice as fine on the side nearer zero. */
// @ts-ignore: decorator
@inline function powerOfTwoCode(c: i32, format: i32): bool {
  return (c & ((1 << fractionBits(format)) - 1)) == 0 && exponentField(c, format) > 1;
}

/** 0.5 when the grid is twice as fine on the side nearer zero, else 1. */
// @ts-ignore: decorator
@inline function fineSide(c: i32, format: i32): f64 {
  return select<f64>(0.5, 1, powerOfTwoCode(c, format));
}

/** Bins [first, last] (already clamped to the profile) into the difference array, when not empty. */
// @ts-ignore: decorator
@inline function addInterval(profileDiffAt: usize, first: f64, last: f64): void {
  if (first <= last) addBins(profileDiffAt, <u32>first, <u32>last + 1);
}

/**
 * The difference array's entries touched since `clearTouched`: [touchedFirst,
 * touchedAfter], so that the caller adds and clears only those (a small tensor's chunk
 * touches a few bins of 4,002).
 */
let touchedFirst: u32 = 0;
let touchedAfter: u32 = 0;

// @ts-ignore: decorator
@inline function clearTouched(): void {
  touchedFirst = 0xffffffff;
  touchedAfter = 0;
}

/** One element's bins [first, after) into the difference array, when not empty. */
// @ts-ignore: decorator
@inline function addBins(profileDiffAt: usize, first: u32, after: u32): void {
  if (first < after) {
    const firstAt = profileDiffAt + (<usize>first << 3);
    const afterAt = profileDiffAt + (<usize>after << 3);
    store<f64>(firstAt, load<f64>(firstAt) + 1);
    store<f64>(afterAt, load<f64>(afterAt) - 1);
    touchedFirst = min(touchedFirst, first);
    touchedAfter = max(touchedAfter, after);
  }
}

/** |e|, |d| in ulps of s up to which intervals are tabulated; keys span 2·limit + 1 per axis. */
const INTERVAL_KEY_LIMIT = 63;
const INTERVAL_KEY_SPAN = 2 * INTERVAL_KEY_LIMIT + 1;
/** Cell cases: sides equal; a positive power of two (finer below); a negative one (finer above). */
const CELL_CASES = 3;
/** Bytes of the interval table: one u32 (first bin, last bin + 1, 16 bits each) per key and case. */
export const INTERVAL_TABLE_BYTES = INTERVAL_KEY_SPAN * INTERVAL_KEY_SPAN * CELL_CASES * 4;

/** Adds the tabulated interval of key = e·span + d (ulps) in `cellCase` to the difference array. */
// @ts-ignore: decorator
@inline function addTabulated(profileDiffAt: usize, tableAt: usize, key: i32, cellCase: i32): void {
  const index = (key + INTERVAL_KEY_LIMIT * INTERVAL_KEY_SPAN + INTERVAL_KEY_LIMIT) * CELL_CASES + cellCase;
  const entry = load<u32>(tableAt + (<usize>index << 2));
  const first = entry & 0xffff;
  const after = entry >> 16;
  addBins(profileDiffAt, first, after);
}

/**
 * Fills the interval table at `tableAt` (INTERVAL_TABLE_BYTES): for e, d in ulps of s
 * within ±INTERVAL_KEY_LIMIT and each cell case, the bins `scalarInterval` adds, as
 * first and one past the last (equal when none), computed by the same arithmetic with
 * ulp(s) = 1.
 */
export function buildIntervalTable(tableAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32): void {
  for (let eUlps = -INTERVAL_KEY_LIMIT; eUlps <= INTERVAL_KEY_LIMIT; eUlps++) {
    for (let dUlps = -INTERVAL_KEY_LIMIT; dUlps <= INTERVAL_KEY_LIMIT; dUlps++) {
      for (let cellCase = 0; cellCase < CELL_CASES; cellCase++) {
        const down: f64 = cellCase == 1 ? 0.5 : 1;
        const up: f64 = cellCase == 2 ? 0.5 : 1;
        const packed = dUlps == 0 ? 0 : intervalOf(<f64>eUlps, down, up, <f64>dUlps, binsPerUnit, centreOffset, <f64>lastBin);
        const index = ((eUlps + INTERVAL_KEY_LIMIT) * INTERVAL_KEY_SPAN + dUlps + INTERVAL_KEY_LIMIT) * CELL_CASES + cellCase;
        store<u32>(tableAt + (<usize>index << 2), packed);
      }
    }
  }
}

/** Bytes of a compaction table: one i8x16 swizzle pattern per mask of informative lanes (8 lanes at most: 256 masks). */
export const COMPACT_TABLE_BYTES = 256 * 16;

/**
 * Fills a compaction table at `tableAt` (COMPACT_TABLE_BYTES) for lanes of `laneBytes`
 * bytes (2: eight 16-bit codes; 4: four F32 codes): for each mask of lanes, the byte
 * pattern that moves the lanes set in it, in order, to the front (the rest of the
 * pattern selects nothing: zeros).
 */
export function buildCompactTable(tableAt: usize, laneBytes: i32): void {
  const lanes = 16 / laneBytes;
  for (let mask = 0; mask < 1 << lanes; mask++) {
    const at = tableAt + (<usize>mask << 4);
    let to = 0;
    for (let lane = 0; lane < lanes; lane++) {
      if ((mask >> lane) & 1) {
        for (let byte = 0; byte < laneBytes; byte++) store<u8>(at + <usize>(laneBytes * to + byte), <u8>(laneBytes * lane + byte));
        to++;
      }
    }
    for (let byte = laneBytes * to; byte < 16; byte++) store<u8>(at + <usize>byte, 0xff);
  }
}

/** Groups of eight the SIMD first loop counts on i16 lanes before widening: 8,192 (a default chunk) < 32,768. */
const COUNT_BLOCK: i32 = 8192;

// @ts-ignore: decorator
@inline function laneSum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/**
 * The two-parent kernel for a chunk holding non-finite values, 16-bit codes with per-code
 * tables: every element of the chunk (the Gram of [r, d, e], the floor, equality and
 * kept-base counts, the positions of the informative elements |d| ≥ T·ulp(s), d ≠ 0, into
 * `positionsAt`), the non-finite ones counted and left out; then the informative pass.
 */
export function twoParentsChecked(
  suspectAt: usize, referenceAt: usize, otherAt: usize, count: i32,
  valueAt: usize, ulp2At: usize, lowerStepAt: usize, upperStepAt: usize, thresholdAt: usize,
  positionsAt: usize, profileDiffAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32, outAt: usize,
): void {
  checkedTwoParents(
    suspectAt, referenceAt, otherAt, count, valueAt, ulp2At, lowerStepAt, upperStepAt, thresholdAt, 0,
    positionsAt, profileDiffAt, binsPerUnit, centreOffset, lastBin, outAt, false,
  );
}

/** `twoParentsChecked` for F32 codes: values, ulps and cells from the bits, no table. */
export function twoParentsCheckedF32(
  suspectAt: usize, referenceAt: usize, otherAt: usize, count: i32, informativeUlps: f64,
  positionsAt: usize, profileDiffAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32, outAt: usize,
): void {
  checkedTwoParents(
    suspectAt, referenceAt, otherAt, count, 0, 0, 0, 0, 0, informativeUlps,
    positionsAt, profileDiffAt, binsPerUnit, centreOffset, lastBin, outAt, true,
  );
}

/** The checked kernel over 16-bit codes and per-code tables, or over F32 codes (`wide`, a constant in each caller). */
// @ts-ignore: decorator
@inline function checkedTwoParents(
  suspectAt: usize, referenceAt: usize, otherAt: usize, count: i32,
  valueAt: usize, ulp2At: usize, lowerStepAt: usize, upperStepAt: usize, thresholdAt: usize, informativeUlps: f64,
  positionsAt: usize, profileDiffAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32, outAt: usize, wide: bool,
): void {
  let rr = 0.0, rd = 0.0, re = 0.0, dd = 0.0, de = 0.0, ee = 0.0;
  let floor = 0.0, floorVar = 0.0;
  let used = 0, nonFinite = 0, informative = 0;
  let equalRef = 0, equalOther = 0, parentsEqual = 0, keptBase = 0;
  for (let i = 0; i < count; i++) {
    const cs = codeOf(suspectAt, i, wide);
    const cr = codeOf(referenceAt, i, wide);
    const s = wide ? codeValue(cs, F32_CODES) : entry(valueAt, cs);
    const r = wide ? codeValue(cr, F32_CODES) : entry(valueAt, cr);
    const p = wide ? codeValue(codeOf(otherAt, i, true), F32_CODES) : entry(valueAt, code(otherAt, i));
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
    const ulp2 = wide ? square(codeUlp(cs, F32_CODES)) : entry(ulp2At, cs);
    floor += ulp2;
    floorVar += ulp2 * ulp2;
    if (s == r) equalRef++;
    if (s == p) equalOther++;
    if (d == 0) {
      parentsEqual++;
      continue;
    }
    if (cs == cr) keptBase++;
    if (Math.abs(d) >= (wide ? informativeUlps * codeUlp(cs, F32_CODES) : entry(thresholdAt, cs))) {
      store<i32>(positionsAt + (<usize>informative << 2), i);
      informative++;
    }
  }
  putAllElementSums(outAt, rr, rd, re, dd, de, ee, used, nonFinite, floor, floorVar, equalRef, equalOther, parentsEqual, keptBase);
  informativePass(suspectAt, referenceAt, otherAt, positionsAt, informative, valueAt, ulp2At, lowerStepAt, upperStepAt, profileDiffAt, binsPerUnit, centreOffset, lastBin, outAt, wide);
}

// @ts-ignore: decorator
@inline function square(x: f64): f64 {
  return x * x;
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
  valueAt: usize, ulp2At: usize, lowerStepAt: usize, upperStepAt: usize,
  profileDiffAt: usize, binsPerUnit: f64, centreOffset: f64, lastBin: i32, outAt: usize, wide: bool,
): void {
  clearTouched();
  let irr = 0.0, ird = 0.0, ire = 0.0, idd = 0.0, ide = 0.0, iee = 0.0;
  let informativeFloor = 0.0, keptBaseInformativeDd = 0.0;
  let keptBaseInformative = 0;
  const last = <f64>lastBin;
  for (let k = 0; k < count; k++) {
    const i = load<i32>(positionsAt + (<usize>k << 2));
    const cs = codeOf(suspectAt, i, wide);
    const cr = codeOf(referenceAt, i, wide);
    const r = wide ? codeValue(cr, F32_CODES) : entry(valueAt, cr);
    const d = (wide ? codeValue(codeOf(otherAt, i, true), F32_CODES) : entry(valueAt, code(otherAt, i))) - r;
    const e = (wide ? codeValue(cs, F32_CODES) : entry(valueAt, cs)) - r;
    const ulp = wide ? codeUlp(cs, F32_CODES) : 0;
    informativeFloor += wide ? ulp * ulp : entry(ulp2At, cs);
    irr += r * r;
    ird += r * d;
    ire += r * e;
    idd += d * d;
    ide += d * e;
    iee += e * e;
    const keptAtBase = cs == cr;
    keptBaseInformative += <i32>keptAtBase;
    keptBaseInformativeDd += select<f64>(d * d, 0, keptAtBase);
    if (wide) {
      // Positive s: below = the near-zero step, above = ulp; negative s: the other way round.
      const nearZeroStep = ulp * fineSide(cs, F32_CODES);
      const negativeSuspect = cs < 0;
      scalarInterval(profileDiffAt, e, negativeSuspect ? ulp : nearZeroStep, negativeSuspect ? nearZeroStep : ulp, d, binsPerUnit, centreOffset, last);
    } else {
      scalarInterval(profileDiffAt, e, entry(lowerStepAt, cs), entry(upperStepAt, cs), d, binsPerUnit, centreOffset, last);
    }
  }
  putInformativeSums(outAt, irr, ird, ire, idd, ide, iee, count, informativeFloor, keptBaseInformative, keptBaseInformativeDd);
}

/**
 * The exact-hit interval of one element: the bins whose centre w has
 * e − down/2 ≤ w·d ≤ e + up/2, added to the difference array. For d < 0 the bounds swap
 * sign and place (selects: d's sign is a coin toss, a branch on it mispredicts half the
 * time). One division: the quotients only propose the first and last bin, which the
 * exact products then settle, so a reciprocal that is off in the last bit proposes the
 * same bins or their neighbours.
 */
// @ts-ignore: decorator
@inline function scalarInterval(profileDiffAt: usize, e: f64, down: f64, up: f64, d: f64, binsPerUnit: f64, centreOffset: f64, lastBin: f64): void {
  const bins = intervalOf(e, down, up, d, binsPerUnit, centreOffset, lastBin);
  const first = bins & 0xffff;
  const after = bins >> 16;
  addBins(profileDiffAt, first, after);
}

/** The bins of one element's interval, packed: the first, and one past the last (16 bits each); equal when none. */
// @ts-ignore: decorator
@inline function intervalOf(e: f64, down: f64, up: f64, d: f64, binsPerUnit: f64, centreOffset: f64, lastBin: f64): u32 {
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
  let last = Math.floor(high * perStep);
  if ((last + 1) * step <= high) last++;
  else if (last * step > high) last--;
  first += centreOffset;
  last += centreOffset;
  if (first < 0) first = 0;
  if (last > lastBin) last = lastBin;
  if (first > last) return 0;
  return <u32><i32>first | (<u32>(<i32>last + 1) << 16);
}
