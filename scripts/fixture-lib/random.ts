/**
 * Seeded randomness for the fixtures, bit for bit the same on every machine.
 *
 * The committed fixtures are compared byte for byte with a fresh generation, so every
 * number must come out identical on every platform and Node version. IEEE 754 requires
 * +, −, ×, ÷ and sqrt to be correctly rounded, and Math.imul / Math.fround are exact,
 * but Math.log, Math.cos and Math.exp are only "implementation-approximated": a last-bit
 * difference in one of them would, once in a few hundred million draws, move a value
 * across a bf16 rounding boundary and change a byte. So the normals use the polar form
 * of Box–Muller (no cosine) with a logarithm built from basic operations only.
 */

/** xoshiro128** (Blackman & Vigna): 32-bit state words, integer arithmetic only. */
export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** The polar method yields normals in pairs; the second waits here. */
  private spareNormal: number | null = null;

  constructor(seed: readonly [number, number, number, number]) {
    [this.s0, this.s1, this.s2, this.s3] = seed;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) throw new Error('Random: the all-zero state is a fixed point');
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotateLeft(this.s3, 11);
    return result;
  }

  /** Uniform on [0, 1) with 53 random bits (every value exact). */
  uniform(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Uniform on [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** A uniform integer in [lo, hi] (inclusive); the range is tiny, so modulo bias is nil. */
  integer(lo: number, hi: number): number {
    return lo + (this.nextUint32() % (hi - lo + 1));
  }

  /** A standard normal deviate (Marsaglia's polar form of Box–Muller). */
  normal(): number {
    if (this.spareNormal !== null) {
      const spare = this.spareNormal;
      this.spareNormal = null;
      return spare;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const factor = Math.sqrt((-2 * naturalLog(s)) / s);
      this.spareNormal = v * factor;
      return u * factor;
    }
  }

  /** Fills `out` with independent N(0, 1) deviates. */
  fillNormal(out: Float64Array): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
    return out;
  }
}

function rotateLeft(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A generator whose stream depends only on `label`, so that each tensor's numbers stay
 * the same when other tensors or fixtures are added or reordered.
 */
export function randomFor(label: string): Random {
  // FNV-1a over the UTF-16 code units, then splitmix32 to spread it over 128 bits.
  let hash = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193);
  let state = hash >>> 0;
  const next = (): number => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  return new Random([next(), next(), next(), next()]);
}

const LN2 = 0.6931471805599453;
const bits = new DataView(new ArrayBuffer(8));

/**
 * ln(x) for finite x > 0 from basic operations only (see the top of this file). Not
 * correctly rounded — about 1e-16 relative — but the same everywhere, which is what
 * matters here. x = m·2^e with m in [√½, √2); ln m = 2·atanh(t), t = (m−1)/(m+1),
 * |t| ≤ 0.1716, and the odd series to t^25 leaves a truncation error below 1e-20.
 */
export function naturalLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`naturalLog: ${x} is not a finite positive number`);
  let exponent = 0;
  let m = x;
  // Subnormals: scale into the normal range first (multiplying by 2^54 is exact).
  if (m < 2.2250738585072014e-308) {
    m *= 18014398509481984;
    exponent -= 54;
  }
  bits.setFloat64(0, m);
  const high = bits.getUint32(0);
  exponent += ((high >>> 20) & 0x7ff) - 1023;
  // Set the biased exponent to 1023: m becomes the significand in [1, 2), exactly.
  bits.setUint32(0, (high & 0x800fffff) | 0x3ff00000);
  m = bits.getFloat64(0);
  if (m > Math.SQRT2) {
    m /= 2;
    exponent += 1;
  }
  const t = (m - 1) / (m + 1);
  const t2 = t * t;
  let term = t;
  let series = t;
  for (let k = 3; k <= 25; k += 2) {
    term *= t2;
    series += term / k;
  }
  return exponent * LN2 + 2 * series;
}
