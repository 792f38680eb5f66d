/**
 * Storage dtypes: sizes, exact decoders, rounding steps and round-to-nearest encoders.
 *
 * What the engine relies on:
 * - `decode` turns little-endian stored values into exact float64 values (every
 *   F64/F32/F16/BF16 value, subnormals included, is exactly representable in float64).
 * - `decodeWithCell` also writes, per element, the rounding cell of the stored value:
 *   every real x with round(x) == v lies in [v - below/2, v + above/2]. For v > 0,
 *   above = ulp(v) and below = ulp(v), or ulp(v)/2 when v is an exact power of two
 *   (the grid is twice as fine just below it); mirrored for v < 0. Zeros and
 *   subnormals get the smallest subnormal step on both sides. `ulp(v)` is the format's
 *   spacing at v (statistics.md): 2^(max(E,1) - bias - mantissaBits).
 * Non-finite values decode to NaN/±Infinity with NaN cells; the engine excludes them.
 */

export type SupportedFloatDType = 'F64' | 'F32' | 'F16' | 'BF16';

export interface FloatFormat {
  readonly dtype: SupportedFloatDType;
  readonly bytes: 2 | 4 | 8;
  readonly exponentBits: number;
  /** Explicit fraction bits: 52, 23, 10, 7. */
  readonly mantissaBits: number;
  readonly bias: number;
  /** Spacing of zero and subnormals: 2^(1 - bias - mantissaBits). */
  readonly minStep: number;
  /** Largest finite value. */
  readonly maxFinite: number;
}

function makeFormat(
  dtype: SupportedFloatDType,
  bytes: 2 | 4 | 8,
  exponentBits: number,
  mantissaBits: number,
): FloatFormat {
  const bias = 2 ** (exponentBits - 1) - 1;
  return {
    dtype,
    bytes,
    exponentBits,
    mantissaBits,
    bias,
    minStep: 2 ** (1 - bias - mantissaBits),
    maxFinite: (2 - 2 ** -mantissaBits) * 2 ** bias,
  };
}

export const FLOAT_FORMATS: Readonly<Record<SupportedFloatDType, FloatFormat>> = {
  F64: makeFormat('F64', 8, 11, 52),
  F32: makeFormat('F32', 4, 8, 23),
  F16: makeFormat('F16', 2, 5, 10),
  BF16: makeFormat('BF16', 2, 8, 7),
};

/**
 * Bits per element of every dtype the safetensors format defines. Sub-byte types
 * (F4, F6_*) pack several elements per byte. Anything not listed is an unknown dtype,
 * which the header parser rejects; listed but undecodable dtypes are reported per
 * tensor as unsupported.
 */
export const DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  I64: 64,
  U64: 64,
  F64: 64,
  C64: 64,
};

export function isKnownDType(dtype: string): boolean {
  return Object.hasOwn(DTYPE_BITS, dtype);
}

/** The decodable float format for a dtype string, or null when provcheck cannot decode it. */
export function floatFormat(dtype: string): FloatFormat | null {
  return Object.hasOwn(FLOAT_FORMATS, dtype) ? FLOAT_FORMATS[dtype as SupportedFloatDType] : null;
}

/** Bytes taken by `elements` values of a dtype, or null when that is not a whole number. */
export function byteLengthOf(dtype: string, elements: number): number | null {
  const bits = DTYPE_BITS[dtype];
  if (bits === undefined) return null;
  const total = elements * bits;
  return total % 8 === 0 ? total / 8 : null;
}

// --- decoding -------------------------------------------------------------------------

const scratchU32 = new Uint32Array(1 << 14);
const scratchF32 = new Float32Array(scratchU32.buffer);

let f16Table: Float64Array | null = null;
/** All 65,536 half-precision values, built once: a lookup beats bit arithmetic per element. */
function halfTable(): Float64Array {
  if (f16Table) return f16Table;
  const table = new Float64Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * fraction * 2 ** -24;
    else if (exponent === 31) table[bits] = fraction ? NaN : sign * Infinity;
    else table[bits] = sign * (1024 + fraction) * 2 ** (exponent - 25);
  }
  f16Table = table;
  return table;
}

/** A view of `src` as elements of `bytes` width; copies only when `src` is misaligned. */
function aligned(src: Uint8Array, bytes: number): ArrayBuffer {
  if (src.byteOffset % bytes === 0) return src.buffer as ArrayBuffer;
  const copy = new Uint8Array(src.byteLength);
  copy.set(src);
  return copy.buffer;
}

function offsetOf(src: Uint8Array, bytes: number): number {
  return src.byteOffset % bytes === 0 ? src.byteOffset : 0;
}

/** Decodes `count` values from `src` (little-endian) into `out[0..count)`. */
export function decode(format: FloatFormat, src: Uint8Array, out: Float64Array, count: number): void {
  const buffer = aligned(src, format.bytes);
  const offset = offsetOf(src, format.bytes);
  switch (format.dtype) {
    case 'F64': {
      out.set(new Float64Array(buffer, offset, count));
      return;
    }
    case 'F32': {
      const values = new Float32Array(buffer, offset, count);
      for (let i = 0; i < count; i++) out[i] = values[i]!;
      return;
    }
    case 'F16': {
      const table = halfTable();
      const codes = new Uint16Array(buffer, offset, count);
      for (let i = 0; i < count; i++) out[i] = table[codes[i]!]!;
      return;
    }
    case 'BF16': {
      // bf16 is the top half of a float32: shift into place, reinterpret, widen.
      const codes = new Uint16Array(buffer, offset, count);
      const block = scratchU32.length;
      for (let base = 0; base < count; base += block) {
        const n = Math.min(block, count - base);
        for (let i = 0; i < n; i++) scratchU32[i] = codes[base + i]! << 16;
        for (let i = 0; i < n; i++) out[base + i] = scratchF32[i]!;
      }
      return;
    }
  }
}

const stepTables = new Map<SupportedFloatDType, Float64Array>();
/** ulp by biased exponent field: 2^(max(E,1) - bias - mantissaBits); NaN for Inf/NaN. */
function stepTable(format: FloatFormat): Float64Array {
  let table = stepTables.get(format.dtype);
  if (table) return table;
  const size = 1 << format.exponentBits;
  table = new Float64Array(size);
  for (let e = 0; e < size; e++) {
    table[e] = e === size - 1 ? NaN : 2 ** (Math.max(e, 1) - format.bias - format.mantissaBits);
  }
  stepTables.set(format.dtype, table);
  return table;
}

/**
 * Decodes like `decode` and writes each value's rounding cell half-widths' steps:
 * `above[i]` and `below[i]` as described at the top of this file.
 */
export function decodeWithCell(
  format: FloatFormat,
  src: Uint8Array,
  out: Float64Array,
  above: Float64Array,
  below: Float64Array,
  count: number,
): void {
  decode(format, src, out, count);
  const steps = stepTable(format);
  const buffer = aligned(src, format.bytes);
  const offset = offsetOf(src, format.bytes);
  const m = format.mantissaBits;
  if (format.bytes === 2) {
    const codes = new Uint16Array(buffer, offset, count);
    const expMask = (1 << format.exponentBits) - 1;
    const fracMask = (1 << m) - 1;
    for (let i = 0; i < count; i++) {
      const code = codes[i]!;
      const e = (code >> m) & expMask;
      const ulp = steps[e]!;
      // An exact power of two (fraction 0, above the first normal binade) has a grid
      // twice as fine on its side nearer zero.
      const half = (code & fracMask) === 0 && e > 1 ? ulp / 2 : ulp;
      if (code & 0x8000) {
        above[i] = half;
        below[i] = ulp;
      } else {
        above[i] = ulp;
        below[i] = half;
      }
    }
  } else {
    const words = new Uint32Array(buffer, offset, count * (format.bytes / 4));
    const stride = format.bytes / 4;
    // The high word holds sign, exponent and the top of the fraction (little-endian).
    const highFracBits = format.bytes === 8 ? 20 : 23;
    const expMask = (1 << format.exponentBits) - 1;
    const highFracMask = (1 << highFracBits) - 1;
    for (let i = 0; i < count; i++) {
      const high = words[i * stride + stride - 1]!;
      const low = stride === 2 ? words[i * stride]! : 0;
      const e = (high >>> highFracBits) & expMask;
      const ulp = steps[e]!;
      const half = (high & highFracMask) === 0 && low === 0 && e > 1 ? ulp / 2 : ulp;
      if (high & 0x80000000) {
        above[i] = half;
        below[i] = ulp;
      } else {
        above[i] = ulp;
        below[i] = half;
      }
    }
  }
}

// --- rounding and encoding --------------------------------------------------------------

const f64View = new DataView(new ArrayBuffer(8));

/** Unbiased binary exponent of a finite nonzero float64 (floor(log2|x|)), exactly. */
function exponentOf(x: number): number {
  f64View.setFloat64(0, x);
  const biased = (f64View.getUint16(0) >> 4) & 0x7ff;
  if (biased !== 0) return biased - 1023;
  // A float64 subnormal: scaling by 2^64 is exact and makes it normal.
  return exponentOf(x * 2 ** 64) - 64;
}

function roundHalfEven(q: number): number {
  const floor = Math.floor(q);
  const rest = q - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

const roundWord = new Float64Array(1);
/** The float64's two 32-bit halves; the fast rounding below assumes little-endian order, as every Node platform has. */
const roundHalves = new Uint32Array(roundWord.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Largest binary exponent of a normal F16 value (15). */
const F16_MAX_EXPONENT = exponentOf(FLOAT_FORMATS.F16.maxFinite);

const bf16Word = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Word.buffer);

/**
 * roundTo(BF16, x), on float32 bits (roundTo's BF16 path: the recipe replay's inner loops
 * round millions of values). x is first rounded to float32 *to odd* (toward zero, the last bit set when
 * inexact): with 16 more bits than bf16 that keeps every tie and sticky bit, so the one
 * rounding to bf16 after it (add 0x7FFF plus the kept bit's lowest, ties to even) is
 * x's correct rounding, never a double rounding.
 */
export function roundToBf16(x: number): number {
  bf16Word[0] = x;
  let b = bf16Bits[0]!;
  if (bf16Word[0] !== x) {
    // Inexact (or NaN): step back toward zero if float32 rounding went away from it, then set the sticky bit.
    if (Math.abs(bf16Word[0]!) > Math.abs(x)) b -= 1;
    b |= 1;
  }
  if ((b & 0x7f800000) === 0x7f800000) return (b & 0x7fffff) === 0 ? bf16Word[0]! : NaN;
  bf16Bits[0] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 0) & 0xffff0000;
  return bf16Word[0]!;
}

/** The value of `format` nearest to x (ties to even), as IEEE round-to-nearest gives. */
export function roundTo(format: FloatFormat, x: number): number {
  if (format.dtype === 'F64') return x;
  if (format.dtype === 'F32') return Math.fround(x);
  if (format.dtype === 'BF16') return roundToBf16(x);
  if (format.dtype === 'F16' && LITTLE_ENDIAN) {
    // F16 keeps 10 fraction bits, all in the float64's high word: round
    // there, on the bits (ties to even, the low word and the dropped high bits as the
    // sticky part). A carry out of the fraction moves to the next binade, as it should.
    // Only for results that are normal in the format; the rest takes the general path.
    roundWord[0] = x;
    const high = roundHalves[1]!;
    const exponent = ((high >>> 20) & 0x7ff) - 1023;
    if (exponent >= 1 - format.bias && exponent <= F16_MAX_EXPONENT) {
      const shift = 20 - format.mantissaBits;
      const half = 1 << (shift - 1);
      const rest = high & ((1 << shift) - 1);
      const up = rest > half || (rest === half && (roundHalves[0] !== 0 || ((high >>> shift) & 1) === 1));
      roundHalves[1] = ((high >>> shift) + (up ? 1 : 0)) << shift;
      roundHalves[0] = 0;
      const rounded = roundWord[0]!;
      if (rounded > format.maxFinite) return Infinity;
      if (rounded < -format.maxFinite) return -Infinity;
      return rounded;
    }
  }
  if (!Number.isFinite(x) || x === 0) return x;
  const magnitude = Math.abs(x);
  const e = Math.max(exponentOf(magnitude), 1 - format.bias);
  const ulp = 2 ** (e - format.mantissaBits);
  // Scaling by a power of two is exact, so q carries x's full precision.
  const rounded = roundHalfEven(magnitude / ulp) * ulp;
  const value = rounded > format.maxFinite ? Infinity : rounded;
  return x < 0 ? -value : value;
}

/** The spacing of `format` at the value v (statistics.md's ulp). */
export function ulpOf(format: FloatFormat, v: number): number {
  if (!Number.isFinite(v)) return NaN;
  if (v === 0) return format.minStep;
  const e = Math.max(exponentOf(Math.abs(v)), 1 - format.bias);
  return 2 ** (e - format.mantissaBits);
}

/** Stores values (rounded to nearest even) as little-endian bytes of `format`. */
export function encode(format: FloatFormat, values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  switch (format.dtype) {
    case 'F64':
      return new Uint8Array(Float64Array.from(values).buffer);
    case 'F32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'BF16': {
      const codes = new Uint16Array(n);
      const word = new Float32Array(1);
      const bits = new Uint32Array(word.buffer);
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (Number.isNaN(v)) {
          codes[i] = 0x7fc0;
          continue;
        }
        // The bf16-rounded value is exactly a float32 whose low half is zero.
        word[0] = roundTo(format, v);
        codes[i] = bits[0]! >>> 16;
      }
      return new Uint8Array(codes.buffer);
    }
    case 'F16': {
      const codes = new Uint16Array(n);
      for (let i = 0; i < n; i++) codes[i] = halfBits(roundTo(format, values[i]!));
      return new Uint8Array(codes.buffer);
    }
  }
}

function halfBits(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  const e = exponentOf(a);
  if (e < -14) return sign | Math.round(a / 2 ** -24); // subnormal: exact after roundTo
  return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
}
