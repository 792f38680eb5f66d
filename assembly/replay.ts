// Candidate recipes replayed bit for bit (src/engine/recipes/merge-arithmetic.ts says what
// each arithmetic is) for the usual case: two parents, a weighted sum (or SLERP, which is
// one with its own coefficients), a BF16 suspect. The same operations in the same order
// as the JavaScript replay, which stays the definition for every other case; a test
// compares the two on every arithmetic. Memory is addressed raw: ...At are byte offsets.

/** Arithmetics, as src/engine/recipes/replay-wasm.ts numbers them. */
const EXACT_ONCE = 0, FLOAT32 = 1, TORCH_IN_DTYPE = 2, FORMAT_STEPS = 3;

/** The largest finite bf16, (2 − 2⁻⁷)·2¹²⁷. */
const BF16_MAX: f64 = 3.3895313892515355e38;

/**
 * x rounded to bf16, ties to even. Normal results: on the float64's bits, by the classic
 * add-then-truncate (adding half a step less one, plus the kept last bit, carries exactly
 * when the dropped 45 bits are above half, or at half with an odd last bit; a carry moves
 * to the next binade). Subnormal results and zero: scaled by 2^133 (exact), rounded to an
 * integer by f64.nearest (ties to even), scaled back. Beyond the largest finite:
 * ±Infinity; NaN stays NaN.
 */
// @ts-ignore: decorator
@inline function bf16(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  const exponent = <u32>((bits >> 52) & 0x7ff);
  if (exponent - (1023 - 126) <= 253) {
    const rounded = reinterpret<f64>((bits + ((<u64>1 << 44) - 1) + ((bits >> 45) & 1)) & ~((<u64>1 << 45) - 1));
    return select<f64>(copysign<f64>(Infinity, x), rounded, abs<f64>(rounded) > BF16_MAX);
  }
  if (exponent < 1023 - 126) return nearest<f64>(x * 1.0889035741470031e40) * 9.183549615799121e-41;
  return exponent == 0x7ff ? x : copysign<f64>(Infinity, x);
}

/**
 * Element i's counts, packed: bit 0 when the replayed value is the suspect's bit for bit
 * (equal, and the same zero; NaN never) and the element counts (class ≠ 0), bit 1 when
 * besides the parents differ there (class 2).
 */
// @ts-ignore: decorator
@inline function tally(out: f64, suspectAt: usize, classAt: usize, i: i32): i32 {
  const s = value(suspectAt, i);
  const elementClass = <i32>load<u8>(classAt + <usize>i);
  const same = <i32>(out == s && (out != 0 || reinterpret<u64>(out) == reinterpret<u64>(s))) & <i32>(elementClass != 0);
  return same | ((same & <i32>(elementClass == 2)) << 1);
}

// @ts-ignore: decorator
@inline function value(at: usize, i: i32): f64 {
  return load<f64>(at + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline function pair(at: usize, i: i32): v128 {
  return v128.load(at + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline function float32(x: f64): f64 {
  return <f64><f32>x;
}

/**
 * `bf16` on two lanes: the add-then-truncate on i64x2 when both results are normal,
 * else lane by lane (subnormal results, zero, overflow, NaN: rare).
 */
// @ts-ignore: decorator
@inline function bf16x2(x: v128): v128 {
  const exponent = v128.and(i64x2.shr_u(x, 52), i64x2.splat(0x7ff));
  const normal = v128.and(i64x2.ge_s(exponent, i64x2.splat(1023 - 126)), i64x2.le_s(exponent, i64x2.splat(1023 + 127)));
  if (!i64x2.all_true(normal)) {
    return f64x2.replace_lane(f64x2.splat(bf16(f64x2.extract_lane(x, 0))), 1, bf16(f64x2.extract_lane(x, 1)));
  }
  const carried = i64x2.add(i64x2.add(x, i64x2.splat((<i64>1 << 44) - 1)), v128.and(i64x2.shr_u(x, 45), i64x2.splat(1)));
  const rounded = v128.and(carried, i64x2.splat(~((<i64>1 << 45) - 1)));
  const infinity = v128.or(i64x2.splat(0x7ff0000000000000), v128.and(x, i64x2.splat(<i64>0x8000000000000000)));
  return v128.bitselect(infinity, rounded, f64x2.gt(f64x2.abs(rounded), f64x2.splat(BF16_MAX)));
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
 * Replays one recipe with weights w0, w1 (as the arithmetic uses them) on `count`
 * elements of decoded values (float64 at suspectAt, firstAt, secondAt) and counts, among
 * the elements whose class (u8 at classAt: 0 skip, 1 parents equal, 2 parents differ) is
 * not 0, those it reproduces bit for bit: written as two float64 at outAt (all, where
 * the parents differ).
 */
export function replayTwoBf16(
  arithmetic: i32, w0: f64, w1: f64, normaliser: f64,
  suspectAt: usize, firstAt: usize, secondAt: usize, classAt: usize, count: i32, outAt: usize,
): void {
  // One loop per arithmetic, so that none tests the arithmetic per element; pairs of
  // elements on f64x2 (`tallyPair` packs their counts in bytes), then the odd last one
  // alone (`tally`, in bits).
  let reproduced = 0, differing = 0;
  const w0v = f64x2.splat(w0), w1v = f64x2.splat(w1), normaliserV = f64x2.splat(normaliser), zero = f64x2.splat(0);
  const normalised = normaliser != 1;
  let i = 0;
  if (arithmetic == EXACT_ONCE) {
    for (; i + 2 <= count; i += 2) {
      let sum = f64x2.add(f64x2.add(zero, f64x2.mul(w0v, pair(firstAt, i))), f64x2.mul(w1v, pair(secondAt, i)));
      if (normalised) sum = f64x2.div(sum, normaliserV);
      const t = tallyPair(bf16x2(sum), suspectAt, classAt, i);
      reproduced += t & 0xff;
      differing += t >> 8;
    }
  } else if (arithmetic == FLOAT32) {
    for (; i + 2 <= count; i += 2) {
      let sum = float32x2(f64x2.add(float32x2(f64x2.mul(w0v, pair(firstAt, i))), float32x2(f64x2.mul(w1v, pair(secondAt, i)))));
      if (normalised) sum = float32x2(f64x2.div(sum, normaliserV));
      const t = tallyPair(bf16x2(sum), suspectAt, classAt, i);
      reproduced += t & 0xff;
      differing += t >> 8;
    }
  } else if (arithmetic == TORCH_IN_DTYPE) {
    for (; i + 2 <= count; i += 2) {
      const first = bf16x2(f64x2.mul(w0v, bf16x2(pair(firstAt, i))));
      const sum = float32x2(f64x2.add(float32x2(f64x2.add(zero, first)), bf16x2(f64x2.mul(w1v, bf16x2(pair(secondAt, i))))));
      let rounded = bf16x2(sum);
      if (normalised) rounded = bf16x2(float32x2(f64x2.div(rounded, normaliserV)));
      const t = tallyPair(rounded, suspectAt, classAt, i);
      reproduced += t & 0xff;
      differing += t >> 8;
    }
  } else {
    for (; i + 2 <= count; i += 2) {
      const out = bf16x2(f64x2.add(bf16x2(f64x2.mul(w0v, bf16x2(pair(firstAt, i)))), bf16x2(f64x2.mul(w1v, bf16x2(pair(secondAt, i))))));
      const t = tallyPair(out, suspectAt, classAt, i);
      reproduced += t & 0xff;
      differing += t >> 8;
    }
  }
  for (; i < count; i++) {
    const a = value(firstAt, i);
    const b = value(secondAt, i);
    let out: f64;
    if (arithmetic == EXACT_ONCE) {
      const sum = 0 + w0 * a + w1 * b;
      out = bf16(normaliser == 1 ? sum : sum / normaliser);
    } else if (arithmetic == FLOAT32) {
      const sum = float32(float32(w0 * a) + float32(w1 * b));
      out = bf16(normaliser == 1 ? sum : float32(sum / normaliser));
    } else if (arithmetic == TORCH_IN_DTYPE) {
      const rounded = bf16(float32(float32(0 + bf16(w0 * bf16(a))) + bf16(w1 * bf16(b))));
      out = normaliser == 1 ? rounded : bf16(float32(rounded / normaliser));
    } else {
      out = bf16(bf16(w0 * bf16(a)) + bf16(w1 * bf16(b)));
    }
    const t = tally(out, suspectAt, classAt, i);
    reproduced += t & 1;
    differing += t >> 1;
  }
  store<f64>(outAt, <f64>reproduced);
  store<f64>(outAt + 8, <f64>differing);
}
