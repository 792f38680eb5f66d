// Candidate recipes replayed bit for bit (src/engine/recipes/merge-arithmetic.ts says what
// each arithmetic is) for the usual case: two parents, a weighted sum (or SLERP, which is
// one with its own coefficients), a BF16, F16 or F32 suspect. The same operations in the same order
// as the JavaScript replay, which stays the definition for every other case; a test
// compares the two on every arithmetic. Memory is addressed raw: ...At are byte offsets.

/** Arithmetics, as src/engine/recipes/replay-wasm.ts numbers them. */
const EXACT_ONCE = 0, FLOAT32 = 1, TORCH_IN_DTYPE = 2, FORMAT_STEPS = 3;

/** The suspect's format, a constant wherever the functions taking it are inlined. */
const BF16 = 0, F16 = 1, F32 = 2;

/** The largest finite bf16, (2 − 2⁻⁷)·2¹²⁷, and f16, (2 − 2⁻¹⁰)·2¹⁵. */
const BF16_MAX: f64 = 3.3895313892515355e38;
const F16_MAX: f64 = 65504;
/** Float64 fraction bits a bf16 (f16) result drops: 52 − 7 (52 − 10). */
const BF16_DROPPED = 45;
const F16_DROPPED = 42;
/** Biased float64 exponents of the smallest and the largest normal binade: bf16 2⁻¹²⁶ … 2¹²⁷, f16 2⁻¹⁴ … 2¹⁵. */
const BF16_LOWEST = 1023 - 126, BF16_HIGHEST = 1023 + 127;
const F16_LOWEST = 1023 - 14, F16_HIGHEST = 1023 + 15;
/** The subnormal step: bf16 2⁻¹³³, f16 2⁻²⁴; and its inverse. */
const BF16_TINY: f64 = 9.183549615799121e-41, BF16_PER_TINY: f64 = 1.0889035741470031e40;
const F16_TINY: f64 = 5.960464477539063e-8, F16_PER_TINY: f64 = 16777216;

/**
 * x rounded to the suspect's format (a constant where this is inlined), ties to even.
 * F32: through a float32, the hardware's rounding. BF16, F16: normal results on the
 * float64's bits, by the classic add-then-truncate (adding half a
 * step less one, plus the kept last bit, carries exactly when the dropped bits are above
 * half, or at half with an odd last bit; a carry moves to the next binade). Subnormal
 * results and zero: scaled by the inverse of the subnormal step (exact), rounded to an
 * integer by f64.nearest (ties to even), scaled back. Beyond the largest finite:
 * ±Infinity; NaN stays NaN.
 */
// @ts-ignore: decorator
@inline function roundOne(x: f64, format: i32): f64 {
  if (format == F32) return <f64><f32>x;
  const dropped: u64 = format == F16 ? F16_DROPPED : BF16_DROPPED;
  const lowest: u32 = format == F16 ? F16_LOWEST : BF16_LOWEST;
  const bits = reinterpret<u64>(x);
  const exponent = <u32>((bits >> 52) & 0x7ff);
  if (exponent - lowest <= <u32>(format == F16 ? F16_HIGHEST : BF16_HIGHEST) - lowest) {
    const rounded = reinterpret<f64>((bits + ((<u64>1 << (dropped - 1)) - 1) + ((bits >> dropped) & 1)) & ~((<u64>1 << dropped) - 1));
    return select<f64>(copysign<f64>(Infinity, x), rounded, abs<f64>(rounded) > (format == F16 ? F16_MAX : BF16_MAX));
  }
  if (exponent < lowest) return nearest<f64>(x * (format == F16 ? F16_PER_TINY : BF16_PER_TINY)) * (format == F16 ? F16_TINY : BF16_TINY);
  return exponent == 0x7ff ? x : copysign<f64>(Infinity, x);
}

// @ts-ignore: decorator
@inline function pair(at: usize, i: i32): v128 {
  return v128.load(at + (<usize>i << 3));
}

/**
 * `roundOne` on two lanes. F32: through a float32. BF16, F16: the add-then-truncate on
 * i64x2 when both results are normal, else lane by lane (subnormal results, zero,
 * overflow, NaN: rare).
 */
// @ts-ignore: decorator
@inline function roundPair(x: v128, format: i32): v128 {
  if (format == F32) return float32x2(x);
  const dropped: i64 = format == F16 ? F16_DROPPED : BF16_DROPPED;
  const exponent = v128.and(i64x2.shr_u(x, 52), i64x2.splat(0x7ff));
  const normal = v128.and(
    i64x2.ge_s(exponent, i64x2.splat(format == F16 ? F16_LOWEST : BF16_LOWEST)),
    i64x2.le_s(exponent, i64x2.splat(format == F16 ? F16_HIGHEST : BF16_HIGHEST)),
  );
  if (!i64x2.all_true(normal)) {
    return f64x2.replace_lane(f64x2.splat(roundOne(f64x2.extract_lane(x, 0), format)), 1, roundOne(f64x2.extract_lane(x, 1), format));
  }
  const carried = i64x2.add(i64x2.add(x, i64x2.splat((<i64>1 << (dropped - 1)) - 1)), v128.and(i64x2.shr_u(x, <i32>dropped), i64x2.splat(1)));
  const rounded = v128.and(carried, i64x2.splat(~((<i64>1 << dropped) - 1)));
  const infinity = v128.or(i64x2.splat(0x7ff0000000000000), v128.and(x, i64x2.splat(<i64>0x8000000000000000)));
  return v128.bitselect(infinity, rounded, f64x2.gt(f64x2.abs(rounded), f64x2.splat(format == F16 ? F16_MAX : BF16_MAX)));
}

// @ts-ignore: decorator
@inline function float32x2(x: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(x));
}

/**
 * The counts of elements i and i + 1, packed: reproduced (0 … 2) in the low byte,
 * reproduced where the parents differ in the next. Bit for bit is equal bits: for the
 * elements that count (suspect and parents finite) that is `sameBits`.
 */
// @ts-ignore: decorator
@inline function tallyPair(out: v128, suspectAt: usize, classAt: usize, i: i32): i32 {
  const same = i64x2.bitmask(i64x2.eq(out, v128.load(suspectAt + (<usize>i << 3))));
  const class0 = <i32>load<u8>(classAt + <usize>i);
  const class1 = <i32>load<u8>(classAt + <usize>i + 1);
  const hit0 = (same & 1) & <i32>(class0 != 0);
  const hit1 = (same >> 1) & <i32>(class1 != 0);
  return hit0 + hit1 + (((hit0 & <i32>(class0 == 2)) + (hit1 & <i32>(class1 == 2))) << 8);
}

/**
 * `count` values at fromAt rounded to the suspect's `format` (BF16 0, F16 1, F32 2) into
 * toAt, an even number of them (a pair loop's last pair may hold the padding element):
 * the parents as the torch-in-dtype and format-steps arithmetics read them, rounded once
 * per chunk rather than per recipe.
 */
export function roundPairs(format: i32, fromAt: usize, toAt: usize, count: i32): void {
  if (format == F16) roundPairsIn(fromAt, toAt, count, F16);
  else if (format == F32) roundPairsIn(fromAt, toAt, count, F32);
  else roundPairsIn(fromAt, toAt, count, BF16);
}

// @ts-ignore: decorator
@inline function roundPairsIn(fromAt: usize, toAt: usize, count: i32, format: i32): void {
  for (let i = 0; i < count; i += 2) v128.store(toAt + (<usize>i << 3), roundPair(pair(fromAt, i), format));
}

/**
 * Replays one recipe with weights w0, w1 (as the arithmetic uses them) for a suspect of
 * `format` (BF16 0, F16 1, F32 2) on `count` elements of decoded values (float64 at
 * suspectAt, firstAt, secondAt; the parents rounded to the suspect's format at
 * firstRoundedAt, secondRoundedAt for the arithmetics that round them) and counts,
 * among the elements whose class (u8 at classAt: 0 skip, 1 parents equal, 2 parents
 * differ) is not 0, those it reproduces bit for bit: written as two float64 at outAt
 * (all, where the parents differ). Elements go in pairs: with an odd count the caller
 * pads one element of class 0, which never counts. One loop per format and arithmetic.
 */
export function replayTwoParents(
  format: i32, arithmetic: i32, w0: f64, w1: f64, normaliser: f64,
  suspectAt: usize, firstAt: usize, secondAt: usize, firstRoundedAt: usize, secondRoundedAt: usize,
  classAt: usize, count: i32, outAt: usize,
): void {
  if (format == F16) replayTwo(arithmetic, w0, w1, normaliser, suspectAt, firstAt, secondAt, firstRoundedAt, secondRoundedAt, classAt, count, outAt, F16);
  else if (format == F32) replayTwo(arithmetic, w0, w1, normaliser, suspectAt, firstAt, secondAt, firstRoundedAt, secondRoundedAt, classAt, count, outAt, F32);
  else replayTwo(arithmetic, w0, w1, normaliser, suspectAt, firstAt, secondAt, firstRoundedAt, secondRoundedAt, classAt, count, outAt, BF16);
}

/** The replay, rounding to the suspect's `format` (a constant in each caller). */
// @ts-ignore: decorator
@inline function replayTwo(
  arithmetic: i32, w0: f64, w1: f64, normaliser: f64,
  suspectAt: usize, firstAt: usize, secondAt: usize, firstRoundedAt: usize, secondRoundedAt: usize,
  classAt: usize, count: i32, outAt: usize, format: i32,
): void {
  // One loop per arithmetic, so that none tests the arithmetic per element; pairs of
  // elements on f64x2 (`tallyPair` packs their counts in bytes).
  let reproduced = 0, differing = 0;
  const w0v = f64x2.splat(w0), w1v = f64x2.splat(w1), normaliserV = f64x2.splat(normaliser), zero = f64x2.splat(0);
  const normalised = normaliser != 1;
  if (arithmetic == EXACT_ONCE) {
    for (let i = 0; i < count; i += 2) {
      let sum = f64x2.add(f64x2.add(zero, f64x2.mul(w0v, pair(firstAt, i))), f64x2.mul(w1v, pair(secondAt, i)));
      if (normalised) sum = f64x2.div(sum, normaliserV);
      const t = tallyPair(roundPair(sum, format), suspectAt, classAt, i);
      reproduced += t & 0xff;
      differing += t >> 8;
    }
  } else if (arithmetic == FLOAT32) {
    for (let i = 0; i < count; i += 2) {
      let sum = float32x2(f64x2.add(float32x2(f64x2.mul(w0v, pair(firstAt, i))), float32x2(f64x2.mul(w1v, pair(secondAt, i)))));
      if (normalised) sum = float32x2(f64x2.div(sum, normaliserV));
      const t = tallyPair(roundPair(sum, format), suspectAt, classAt, i);
      reproduced += t & 0xff;
      differing += t >> 8;
    }
  } else if (arithmetic == TORCH_IN_DTYPE) {
    for (let i = 0; i < count; i += 2) {
      const first = roundPair(f64x2.mul(w0v, pair(firstRoundedAt, i)), format);
      const sum = float32x2(f64x2.add(float32x2(f64x2.add(zero, first)), roundPair(f64x2.mul(w1v, pair(secondRoundedAt, i)), format)));
      let rounded = roundPair(sum, format);
      if (normalised) rounded = roundPair(float32x2(f64x2.div(rounded, normaliserV)), format);
      const t = tallyPair(rounded, suspectAt, classAt, i);
      reproduced += t & 0xff;
      differing += t >> 8;
    }
  } else {
    for (let i = 0; i < count; i += 2) {
      const out = roundPair(f64x2.add(roundPair(f64x2.mul(w0v, pair(firstRoundedAt, i)), format), roundPair(f64x2.mul(w1v, pair(secondRoundedAt, i)), format)), format);
      const t = tallyPair(out, suspectAt, classAt, i);
      reproduced += t & 0xff;
      differing += t >> 8;
    }
  }
  store<f64>(outAt, <f64>reproduced);
  store<f64>(outAt + 8, <f64>differing);
}
