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
@inline function float32(x: f64): f64 {
  return <f64><f32>x;
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
  // One loop per arithmetic, so that none tests the arithmetic per element. `tally`
  // packs an element's counts: bit 0 reproduced, bit 1 reproduced where the parents differ.
  let tallies = 0, differing = 0;
  if (arithmetic == EXACT_ONCE) {
    for (let i = 0; i < count; i++) {
      const sum = 0 + w0 * value(firstAt, i) + w1 * value(secondAt, i);
      const t = tally(bf16(normaliser == 1 ? sum : sum / normaliser), suspectAt, classAt, i);
      tallies += t & 1;
      differing += t >> 1;
    }
  } else if (arithmetic == FLOAT32) {
    for (let i = 0; i < count; i++) {
      const sum = float32(float32(w0 * value(firstAt, i)) + float32(w1 * value(secondAt, i)));
      const t = tally(bf16(normaliser == 1 ? sum : float32(sum / normaliser)), suspectAt, classAt, i);
      tallies += t & 1;
      differing += t >> 1;
    }
  } else if (arithmetic == TORCH_IN_DTYPE) {
    for (let i = 0; i < count; i++) {
      const sum = float32(float32(0 + bf16(w0 * bf16(value(firstAt, i)))) + bf16(w1 * bf16(value(secondAt, i))));
      const rounded = bf16(sum);
      const t = tally(normaliser == 1 ? rounded : bf16(float32(rounded / normaliser)), suspectAt, classAt, i);
      tallies += t & 1;
      differing += t >> 1;
    }
  } else {
    for (let i = 0; i < count; i++) {
      const t = tally(bf16(bf16(w0 * bf16(value(firstAt, i))) + bf16(w1 * bf16(value(secondAt, i)))), suspectAt, classAt, i);
      tallies += t & 1;
      differing += t >> 1;
    }
  }
  const all = tallies;
  store<f64>(outAt, <f64>all);
  store<f64>(outAt + 8, <f64>differing);
}
