/**
 * The small float formats of quantized checkpoints: 8-bit (F8_E4M3, F8_E5M2, F8_E8M0,
 * and the FNUZ variants AMD hardware uses), 6-bit (F6_E2M3, F6_E3M2) and 4-bit (F4, i.e.
 * E2M1). Each has at most 256 codes, so every code's value and rounding cell is a table
 * entry, built once from the format's definition:
 *
 * - F8_E4M3 is OCP's E4M3FN (torch.float8_e4m3fn): bias 7, no infinities, NaN only at
 *   S.1111.111, so 0x7E = 448 is the largest value.
 * - F8_E5M2 is IEEE-like (torch.float8_e5m2): bias 15, exponent 31 holds ±Inf and NaN.
 * - F8_E8M0 (OCP MX scale, torch.float8_e8m0fnu): unsigned, no mantissa, value
 *   2^(E − 127), 0xFF is NaN; there is no zero.
 * - FNUZ variants (torch.float8_e4m3fnuz, float8_e5m2fnuz): bias 8 and 16, no infinities,
 *   no negative zero: 0x80 is the only NaN. safetensors has no names for them; they are
 *   here for checkpoints that store them as U8 under a scheme that says so.
 * - F6_E2M3 (bias 1, max 7.5), F6_E3M2 (bias 3, max 28), F4 = E2M1 (bias 1, values 0,
 *   0.5, 1, 1.5, 2, 3, 4, 6): OCP MX element formats, all codes finite.
 *
 * Rounding cells follow src/format/dtype.ts: for v > 0, above = ulp(v) and below = ulp(v),
 * or ulp(v)/2 when v is an exact power of two above the first normal binade; mirrored
 * for v < 0; zeros and subnormals get the subnormal step on both sides; ulp(v) =
 * 2^(max(E,1) − bias − mantissaBits). E8M0 has no subnormals: its cell is [v/2, 2v]'s
 * half-widths, below = v/2 and above = v. NaN and ±Inf get NaN cells.
 */

export type MinifloatDType = 'F8_E4M3' | 'F8_E5M2' | 'F8_E8M0' | 'F8_E4M3FNUZ' | 'F8_E5M2FNUZ' | 'F6_E2M3' | 'F6_E3M2' | 'F4';

/** How a format spends its special codes. */
type Specials = 'ieee' | 'fn' | 'fnuz' | 'e8m0' | 'none';

export interface MinifloatFormat {
  readonly dtype: MinifloatDType;
  /** Bits per code: 8, 6 or 4. */
  readonly bits: 8 | 6 | 4;
  readonly exponentBits: number;
  readonly mantissaBits: number;
  readonly bias: number;
  readonly signed: boolean;
  /** Largest finite value. */
  readonly maxFinite: number;
  /** Per code: the exact value (NaN, ±Infinity where the format has them). */
  readonly values: Float64Array;
  /** Per code: the rounding cell's steps, as at the top of this file. */
  readonly above: Float64Array;
  readonly below: Float64Array;
}

function buildFormat(
  dtype: MinifloatDType,
  bits: 8 | 6 | 4,
  exponentBits: number,
  mantissaBits: number,
  bias: number,
  specials: Specials,
): MinifloatFormat {
  const signed = specials !== 'e8m0';
  const codes = 1 << bits;
  const values = new Float64Array(codes);
  const above = new Float64Array(codes);
  const below = new Float64Array(codes);
  const signBit = signed ? 1 << (bits - 1) : 0;
  const expMax = (1 << exponentBits) - 1;
  const fracMask = (1 << mantissaBits) - 1;
  let maxFinite = 0;
  for (let code = 0; code < codes; code++) {
    const negative = (code & signBit) !== 0;
    const e = (code >> mantissaBits) & expMax;
    const f = code & fracMask;
    let magnitude: number;
    let special = false;
    if (specials === 'e8m0') {
      special = e === expMax;
      magnitude = special ? NaN : 2 ** (e - bias);
    } else if (specials === 'ieee' && e === expMax) {
      special = true;
      magnitude = f === 0 ? Infinity : NaN;
    } else if (specials === 'fn' && e === expMax && f === fracMask) {
      special = true;
      magnitude = NaN;
    } else if (specials === 'fnuz' && code === signBit) {
      special = true;
      magnitude = NaN;
    } else {
      magnitude = e === 0 ? f * 2 ** (1 - bias - mantissaBits) : (2 ** mantissaBits + f) * 2 ** (e - bias - mantissaBits);
    }
    const value = negative ? -magnitude : magnitude;
    values[code] = value;
    if (special || Number.isNaN(value)) {
      above[code] = NaN;
      below[code] = NaN;
      continue;
    }
    if (magnitude > maxFinite) maxFinite = magnitude;
    if (specials === 'e8m0') {
      above[code] = magnitude;
      below[code] = magnitude / 2;
      continue;
    }
    const ulp = 2 ** (Math.max(e, 1) - bias - mantissaBits);
    // A power of two above the first normal binade has a grid twice as fine nearer zero.
    const nearZero = f === 0 && e > 1 ? ulp / 2 : ulp;
    above[code] = negative ? nearZero : ulp;
    below[code] = negative ? ulp : nearZero;
  }
  return { dtype, bits, exponentBits, mantissaBits, bias, signed, maxFinite, values, above, below };
}

export const MINIFLOAT_FORMATS: Readonly<Record<MinifloatDType, MinifloatFormat>> = {
  F8_E4M3: buildFormat('F8_E4M3', 8, 4, 3, 7, 'fn'),
  F8_E5M2: buildFormat('F8_E5M2', 8, 5, 2, 15, 'ieee'),
  F8_E8M0: buildFormat('F8_E8M0', 8, 8, 0, 127, 'e8m0'),
  F8_E4M3FNUZ: buildFormat('F8_E4M3FNUZ', 8, 4, 3, 8, 'fnuz'),
  F8_E5M2FNUZ: buildFormat('F8_E5M2FNUZ', 8, 5, 2, 16, 'fnuz'),
  F6_E2M3: buildFormat('F6_E2M3', 6, 2, 3, 1, 'none'),
  F6_E3M2: buildFormat('F6_E3M2', 6, 3, 2, 3, 'none'),
  F4: buildFormat('F4', 4, 2, 1, 1, 'none'),
};

/** The minifloat format of a dtype string, or null. */
export function minifloatFormat(dtype: string): MinifloatFormat | null {
  return Object.hasOwn(MINIFLOAT_FORMATS, dtype) ? MINIFLOAT_FORMATS[dtype as MinifloatDType] : null;
}

/**
 * Decodes `count` codes starting at code index `firstCode` of `src`. 8-bit formats take
 * one byte per code; F4 packs two codes per byte, the first in the low nibble (torch's
 * float4_e2m1fn_x2, compressed-tensors' pack_fp4_to_uint8 and gpt-oss's MXFP4 blocks all
 * agree). 6-bit formats are not byte-addressable and are decoded from one code per byte
 * (`unpacked`), which is how the scale-free tables are tested; packed F6 tensors are
 * reported as unsupported by the scheme table.
 */
export function decodeMinifloat(
  format: MinifloatFormat,
  src: Uint8Array,
  firstCode: number,
  count: number,
  out: Float64Array,
  above?: Float64Array,
  below?: Float64Array,
): void {
  const { values } = format;
  const cellAbove = format.above;
  const cellBelow = format.below;
  if (format.bits === 4) {
    for (let i = 0; i < count; i++) {
      const at = firstCode + i;
      const byte = src[at >> 1]!;
      const code = at & 1 ? byte >> 4 : byte & 0x0f;
      out[i] = values[code]!;
      if (above) above[i] = cellAbove[code]!;
      if (below) below[i] = cellBelow[code]!;
    }
    return;
  }
  const mask = (1 << format.bits) - 1;
  for (let i = 0; i < count; i++) {
    const code = src[firstCode + i]! & mask;
    out[i] = values[code]!;
    if (above) above[i] = cellAbove[code]!;
    if (below) below[i] = cellBelow[code]!;
  }
}

/**
 * The code nearest to x (ties to the even code, i.e. even mantissa, as IEEE and torch's
 * casts round), saturating at ±maxFinite as quantizers clamp before casting. NaN maps to
 * the format's NaN code (an error for formats without one).
 */
export function nearestCode(format: MinifloatFormat, x: number): number {
  const { values } = format;
  if (Number.isNaN(x)) {
    const nan = values.findIndex((v) => Number.isNaN(v));
    if (nan < 0) throw new RangeError(`${format.dtype} has no NaN`);
    return nan;
  }
  const signBit = format.signed ? 1 << (format.bits - 1) : 0;
  const negative = x < 0 || Object.is(x, -0);
  if (negative && !format.signed) throw new RangeError(`${format.dtype} is unsigned: cannot store ${x}`);
  const magnitude = Math.min(Math.abs(x), format.maxFinite);
  // Positive codes are ordered by value: binary search among the finite ones.
  const positives = signBit === 0 ? values.length : signBit;
  let lo = 0;
  let hi = positives - 1;
  while (hi > lo && !(values[hi]! <= format.maxFinite)) hi--;
  if (magnitude <= values[lo]!) return withSign(format, lo, negative, signBit);
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! <= magnitude) lo = mid;
    else hi = mid;
  }
  const down = magnitude - values[lo]!;
  const up = values[hi]! - magnitude;
  const code = down < up ? lo : up < down ? hi : lo % 2 === 0 ? lo : hi;
  return withSign(format, code, negative, signBit);
}

function withSign(format: MinifloatFormat, code: number, negative: boolean, signBit: number): number {
  if (!negative || signBit === 0) return code;
  // FNUZ has no negative zero: −0 is stored as +0 (its 0x80 is NaN).
  if (code === 0 && Number.isNaN(format.values[signBit]!)) return 0;
  return code | signBit;
}
