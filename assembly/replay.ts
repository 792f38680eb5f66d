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
 * x rounded to bf16, ties to even. Normal results: on the float64's bits (the 45 bits below
 * bf16's last fraction bit decide; a carry moves to the next binade). Subnormal results
 * and zero: scaled by 2^133 (exact), rounded to an integer by f64.nearest (ties to even),
 * scaled back. Beyond the largest finite: ±Infinity; NaN stays NaN.
 */
// @ts-ignore: decorator
@inline function bf16(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  const exponent = <i32>((bits >> 52) & 0x7ff);
  if (exponent >= 1023 - 126 && exponent <= 1023 + 127) {
    const rest = bits & ((<u64>1 << 45) - 1);
    const half = <u64>1 << 44;
    const kept = bits >> 45;
    const up = rest > half || (rest == half && (kept & 1) != 0);
    const rounded = reinterpret<f64>((kept + <u64>up) << 45);
    return abs<f64>(rounded) > BF16_MAX ? copysign<f64>(Infinity, x) : rounded;
  }
  if (exponent < 1023 - 126) return nearest<f64>(x * 1.0889035741470031e40) * 9.183549615799121e-41;
  return exponent == 0x7ff ? x : copysign<f64>(Infinity, x);
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
  let all = 0, differing = 0;
  for (let i = 0; i < count; i++) {
    const a = load<f64>(firstAt + (<usize>i << 3));
    const b = load<f64>(secondAt + (<usize>i << 3));
    let out: f64;
    if (arithmetic == EXACT_ONCE) {
      const sum = 0 + w0 * a + w1 * b;
      out = bf16(normaliser == 1 ? sum : sum / normaliser);
    } else if (arithmetic == FLOAT32) {
      const sum = float32(float32(w0 * a) + float32(w1 * b));
      out = bf16(normaliser == 1 ? sum : float32(sum / normaliser));
    } else if (arithmetic == TORCH_IN_DTYPE) {
      const sum = float32(float32(0 + bf16(w0 * bf16(a))) + bf16(w1 * bf16(b)));
      const rounded = bf16(sum);
      out = normaliser == 1 ? rounded : bf16(float32(rounded / normaliser));
    } else {
      out = bf16(bf16(w0 * bf16(a)) + bf16(w1 * bf16(b)));
    }
    const s = load<f64>(suspectAt + (<usize>i << 3));
    const elementClass = <i32>load<u8>(classAt + <usize>i);
    // Bit for bit: equal values, and the same zero (NaN never matches).
    const same = out == s && (out != 0 || reinterpret<u64>(out) == reinterpret<u64>(s));
    const counted = <i32>(same && elementClass != 0);
    all += counted;
    differing += counted & <i32>(elementClass == 2);
  }
  store<f64>(outAt, <f64>all);
  store<f64>(outAt + 8, <f64>differing);
}
