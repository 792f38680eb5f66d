import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FLOAT_FORMATS,
  byteLengthOf,
  decode,
  decodeWithCell,
  encode,
  floatFormat,
  isKnownDType,
  roundTo,
  roundToBf16,
  ulpOf,
  type FloatFormat,
} from '../../src/format/dtype.js';

const { F64, F32, F16, BF16 } = FLOAT_FORMATS;

function bytesOf16(codes: number[]): Uint8Array {
  return new Uint8Array(Uint16Array.from(codes).buffer);
}

function decoded(format: FloatFormat, bytes: Uint8Array): number[] {
  const count = bytes.byteLength / format.bytes;
  const out = new Float64Array(count);
  decode(format, bytes, out, count);
  return [...out];
}

function cells(format: FloatFormat, bytes: Uint8Array): { values: number[]; above: number[]; below: number[] } {
  const count = bytes.byteLength / format.bytes;
  const out = new Float64Array(count);
  const above = new Float64Array(count);
  const below = new Float64Array(count);
  decodeWithCell(format, bytes, out, above, below, count);
  return { values: [...out], above: [...above], below: [...below] };
}

/** Every code of a 16-bit format, decoded. */
function allCodes(format: FloatFormat): { values: Float64Array; above: Float64Array; below: Float64Array } {
  const codes = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++) codes[i] = i;
  const values = new Float64Array(65536);
  const above = new Float64Array(65536);
  const below = new Float64Array(65536);
  decodeWithCell(format, new Uint8Array(codes.buffer), values, above, below, 65536);
  return { values, above, below };
}

describe('format constants', () => {
  it('have the IEEE parameters', () => {
    expect([F16.bias, F16.minStep, F16.maxFinite]).toEqual([15, 2 ** -24, 65504]);
    expect([BF16.bias, BF16.minStep, BF16.maxFinite]).toEqual([127, 2 ** -133, (2 - 2 ** -7) * 2 ** 127]);
    expect([F32.bias, F32.minStep, F32.maxFinite]).toEqual([127, 2 ** -149, 3.4028234663852886e38]);
    expect([F64.bias, F64.minStep, F64.maxFinite]).toEqual([1023, 5e-324, Number.MAX_VALUE]);
  });

  it('know dtypes and their byte lengths', () => {
    expect(isKnownDType('BF16')).toBe(true);
    expect(isKnownDType('F8_E4M3')).toBe(true);
    expect(isKnownDType('bf16')).toBe(false);
    expect(isKnownDType('toString')).toBe(false);
    expect(floatFormat('F8_E4M3')).toBeNull();
    expect(floatFormat('BF16')).toBe(BF16);
    expect(byteLengthOf('BF16', 3)).toBe(6);
    expect(byteLengthOf('F4', 4)).toBe(2);
    expect(byteLengthOf('F4', 3)).toBeNull();
    expect(byteLengthOf('F6_E2M3', 4)).toBe(3);
    expect(byteLengthOf('F6_E2M3', 2)).toBeNull();
    expect(byteLengthOf('Q4', 2)).toBeNull();
  });
});

describe('decode golden vectors', () => {
  it('F16', () => {
    const codes = [0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000, 0x3555, 0x7bff, 0xfbff, 0x7c00, 0xfc00];
    expect(decoded(F16, bytesOf16(codes))).toEqual([
      0,
      -0,
      2 ** -24,
      1023 * 2 ** -24,
      2 ** -14,
      1,
      -2,
      0.333251953125,
      65504,
      -65504,
      Infinity,
      -Infinity,
    ]);
    expect(Object.is(decoded(F16, bytesOf16([0x8000]))[0], -0)).toBe(true);
    expect(decoded(F16, bytesOf16([0x7e00, 0x7c01]))).toEqual([NaN, NaN]);
  });

  it('BF16', () => {
    const codes = [0x0000, 0x8000, 0x0001, 0x007f, 0x0080, 0x3f80, 0xc000, 0x3eab, 0x7f7f, 0x7f80, 0xff80];
    expect(decoded(BF16, bytesOf16(codes))).toEqual([
      0,
      -0,
      2 ** -133,
      127 * 2 ** -133,
      2 ** -126,
      1,
      -2,
      0.333984375,
      (2 - 2 ** -7) * 2 ** 127,
      Infinity,
      -Infinity,
    ]);
    expect(Object.is(decoded(BF16, bytesOf16([0x8000]))[0], -0)).toBe(true);
    expect(decoded(BF16, bytesOf16([0x7fc0, 0xff81]))).toEqual([NaN, NaN]);
  });

  it('F32', () => {
    const words = Uint32Array.from([0x00000000, 0x80000000, 0x00000001, 0x00800000, 0x3f800000, 0x7f7fffff, 0xff800000]);
    expect(decoded(F32, new Uint8Array(words.buffer))).toEqual([
      0,
      -0,
      2 ** -149,
      2 ** -126,
      1,
      3.4028234663852886e38,
      -Infinity,
    ]);
  });

  it('F64', () => {
    const words = BigUint64Array.from([0n, 1n, 0x0010000000000000n, 0x3ff0000000000000n, 0x7fefffffffffffffn, 0x7ff8000000000000n]);
    expect(decoded(F64, new Uint8Array(words.buffer))).toEqual([0, 5e-324, 2 ** -1022, 1, Number.MAX_VALUE, NaN]);
  });

  it('reads a source that is not aligned to the element size', () => {
    const backing = new Uint8Array(1 + 8);
    backing.set(new Uint8Array(Float32Array.from([1.5, -2.25]).buffer), 1);
    expect(decoded(F32, backing.subarray(1))).toEqual([1.5, -2.25]);
    const half = new Uint8Array(1 + 4);
    half.set(bytesOf16([0x3c00, 0xc000]), 1);
    expect(decoded(F16, half.subarray(1))).toEqual([1, -2]);
    const wide = new Uint8Array(4 + 8);
    wide.set(new Uint8Array(Float64Array.from([1 + 2 ** -52]).buffer), 4);
    expect(cells(F64, wide.subarray(4))).toEqual({ values: [1 + 2 ** -52], above: [2 ** -52], below: [2 ** -52] });
  });

  it('BF16 decodes blocks longer than its scratch buffer', () => {
    const count = (1 << 14) * 2 + 3;
    const codes = new Uint16Array(count);
    for (let i = 0; i < count; i++) codes[i] = 0x3f80 + (i % 128);
    const values = decoded(BF16, new Uint8Array(codes.buffer));
    expect(values[count - 1]).toBe(1 + ((count - 1) % 128) * 2 ** -7);
    expect(values[(1 << 14) + 5]).toBe(1 + (((1 << 14) + 5) % 128) * 2 ** -7);
  });
});

describe('decodeWithCell golden vectors', () => {
  it('F16: zero, subnormals and the minimum normal share the smallest step; a power of two has half a cell below', () => {
    const got = cells(F16, bytesOf16([0x0000, 0x8000, 0x0001, 0x0400, 0x0800, 0x3c00, 0xbc00, 0x3e00, 0x7bff, 0x7c00]));
    expect(got.above).toEqual([2 ** -24, 2 ** -24, 2 ** -24, 2 ** -24, 2 ** -23, 2 ** -10, 2 ** -11, 2 ** -10, 32, NaN]);
    expect(got.below).toEqual([2 ** -24, 2 ** -24, 2 ** -24, 2 ** -24, 2 ** -24, 2 ** -11, 2 ** -10, 2 ** -10, 32, NaN]);
  });

  it('BF16', () => {
    const got = cells(BF16, bytesOf16([0x0000, 0x0001, 0x0080, 0x3f80, 0xbf80, 0x3fc0, 0x7f7f]));
    expect(got.above).toEqual([2 ** -133, 2 ** -133, 2 ** -133, 2 ** -7, 2 ** -8, 2 ** -7, 2 ** 120]);
    expect(got.below).toEqual([2 ** -133, 2 ** -133, 2 ** -133, 2 ** -8, 2 ** -7, 2 ** -7, 2 ** 120]);
  });

  it('F32 and F64', () => {
    const f32 = cells(F32, new Uint8Array(Float32Array.from([0, 2 ** -149, 1, -1, 1.5, 2 ** -126]).buffer));
    expect(f32.above).toEqual([2 ** -149, 2 ** -149, 2 ** -23, 2 ** -24, 2 ** -23, 2 ** -149]);
    expect(f32.below).toEqual([2 ** -149, 2 ** -149, 2 ** -24, 2 ** -23, 2 ** -23, 2 ** -149]);
    const f64 = cells(F64, new Uint8Array(Float64Array.from([0, 5e-324, 1, -1, 1.5, 2 ** -1022, 2 ** -1021, Infinity]).buffer));
    expect(f64.above).toEqual([5e-324, 5e-324, 2 ** -52, 2 ** -53, 2 ** -52, 5e-324, 2 ** -1073, NaN]);
    expect(f64.below).toEqual([5e-324, 5e-324, 2 ** -53, 2 ** -52, 2 ** -52, 5e-324, 2 ** -1074, NaN]);
  });

  // The cell is defined by the neighbours: above = next - v, below = v - previous (mirrored
  // for negatives, continued past the largest finite value). Checked for every code.
  for (const format of [F16, BF16]) {
    it(`${format.dtype}: every finite code's steps are the distances to its neighbours`, () => {
      const { values, above, below } = allCodes(format);
      const signBit = 0x8000;
      const expMask = ((1 << format.exponentBits) - 1) << format.mantissaBits;
      // Positive codes ascend with their values; codes from expMask up are Inf and NaN.
      for (let code = 0; code < expMask; code++) {
        const v = values[code]!;
        const up = code + 1 < expMask ? values[code + 1]! - v : v - values[code - 1]!;
        const down = code === 0 ? format.minStep : v - values[code - 1]!;
        if (above[code] !== up || below[code] !== down) expect([code, above[code], below[code]]).toEqual([code, up, down]);
        if (above[code | signBit] !== down || below[code | signBit] !== up) {
          expect([code | signBit, above[code | signBit], below[code | signBit]]).toEqual([code | signBit, down, up]);
        }
        if (ulpOf(format, v) !== up) expect([code, ulpOf(format, v)]).toEqual([code, up]);
      }
      // The largest finite value's step continues its binade's spacing.
      expect(above[expMask - 1]).toBe(values[expMask - 1]! - values[expMask - 2]!);
    });
  }
});

/** Round half to even by the definition: the two neighbours on the format's grid, compared exactly. */
function roundByDefinition(format: typeof F16, x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const magnitude = Math.abs(x);
  const exponent = Math.max(Math.floor(Math.log2(magnitude)) + (2 ** Math.floor(Math.log2(magnitude)) > magnitude ? -1 : 0), 1 - format.bias);
  const step = 2 ** (exponent - format.mantissaBits);
  // magnitude / step is exact (a power-of-two scaling); floor and the rest are exact too.
  const q = magnitude / step;
  const low = Math.floor(q);
  const rest = q - low;
  const n = rest > 0.5 || (rest === 0.5 && low % 2 === 1) ? low + 1 : low;
  const value = n * step;
  const limited = value > format.maxFinite ? Infinity : value;
  return x < 0 ? -limited : limited;
}

describe('roundTo matches rounding by the definition', () => {
  it('for BF16 and F16 at any magnitude, ties included', () => {
    for (const format of [BF16, F16]) {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc.double({ min: -70000, max: 70000, noNaN: true }),
            // Exact ties and near-ties: a grid value plus half a step, ± a tiny bit.
            fc.tuple(fc.integer({ min: -(2 ** 11), max: 2 ** 11 }), fc.integer({ min: -30, max: 15 }), fc.constantFrom(0, 1, -1)).map(
              ([m, e, nudge]) => (m + 0.5) * 2 ** (e - format.mantissaBits) * (1 + nudge * 2 ** -40),
            ),
          ),
          (x) => Object.is(roundTo(format, x), roundByDefinition(format, x)),
        ),
        { numRuns: 20000 },
      );
    }
  });
});

describe('roundToBf16 (float32 rounded to odd, then to bf16)', () => {
  it('matches rounding by the definition at any magnitude: ties, near-ties, subnormals, overflow', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: true }),
          fc.double({ min: -4e38, max: 4e38, noNaN: true }),
          // Ties and near-ties, from bf16 subnormals to beyond the largest finite: a grid
          // value plus half a step, nudged by less than a float32 step or by much less.
          fc.tuple(fc.integer({ min: -(2 ** 9), max: 2 ** 9 }), fc.integer({ min: -140, max: 130 }), fc.constantFrom(0, 1, -1), fc.constantFrom(2 ** -20, 2 ** -40)).map(
            ([m, e, nudge, size]) => (m + 0.5) * 2 ** (e - BF16.mantissaBits) * (1 + nudge * size),
          ),
        ),
        (x) => Object.is(roundToBf16(x), roundByDefinition(BF16, x)),
      ),
      { numRuns: 30000 },
    );
    for (const x of [0, -0, Infinity, -Infinity, 5e-324, -5e-324, 3.3895313892515355e38, 3.3961775292304957e38, 1e300]) {
      expect(Object.is(roundToBf16(x), roundByDefinition(BF16, x))).toBe(true);
    }
    expect(roundToBf16(NaN)).toBeNaN();
  });
});

describe('roundTo golden vectors', () => {
  it('F16 ties go to the even neighbour', () => {
    expect(roundTo(F16, 1 + 2 ** -11)).toBe(1);
    expect(roundTo(F16, 1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundTo(F16, 1 + 2 ** -11 + 2 ** -30)).toBe(1 + 2 ** -10);
    expect(roundTo(F16, -(1 + 2 ** -11))).toBe(-1);
  });

  it('F16 below a power of two the grid is twice as fine', () => {
    expect(roundTo(F16, 1 - 2 ** -12)).toBe(1);
    expect(roundTo(F16, 1 - 2 ** -12 - 2 ** -30)).toBe(1 - 2 ** -11);
    expect(roundTo(F16, 1 - 3 * 2 ** -12)).toBe(1 - 2 ** -10);
  });

  it('F16 subnormals, zero, overflow and non-finite values', () => {
    expect(roundTo(F16, 2 ** -25)).toBe(0);
    expect(roundTo(F16, 3 * 2 ** -25)).toBe(2 ** -23);
    expect(roundTo(F16, 2 ** -25 + 2 ** -40)).toBe(2 ** -24);
    expect(roundTo(F16, 2 ** -14 - 2 ** -25)).toBe(2 ** -14);
    expect(Object.is(roundTo(F16, -1e-300), -0)).toBe(true);
    expect(Object.is(roundTo(F16, -0), -0)).toBe(true);
    expect(roundTo(F16, 5e-324)).toBe(0);
    expect(roundTo(F16, 65519)).toBe(65504);
    expect(roundTo(F16, 65520)).toBe(Infinity);
    expect(roundTo(F16, -65520)).toBe(-Infinity);
    expect(roundTo(F16, 1e300)).toBe(Infinity);
    expect(roundTo(F16, NaN)).toBeNaN();
    expect(roundTo(F16, -Infinity)).toBe(-Infinity);
  });

  it('BF16', () => {
    expect(roundTo(BF16, 1 + 2 ** -8)).toBe(1);
    expect(roundTo(BF16, 1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
    expect(roundTo(BF16, 1 - 2 ** -9)).toBe(1);
    expect(roundTo(BF16, 2 ** -134)).toBe(0);
    expect(roundTo(BF16, 3 * 2 ** -134)).toBe(2 ** -132);
    expect(roundTo(BF16, BF16.maxFinite + 2 ** 119 - 2 ** 90)).toBe(BF16.maxFinite);
    expect(roundTo(BF16, BF16.maxFinite + 2 ** 119)).toBe(Infinity);
    expect(roundTo(BF16, 3.4e38)).toBe(Infinity);
    expect(roundTo(BF16, 0.1)).toBe(0.10009765625);
  });

  it('F32 and F64', () => {
    expect(roundTo(F32, 1 + 2 ** -24)).toBe(1);
    expect(roundTo(F32, 1 + 3 * 2 ** -24)).toBe(1 + 2 ** -22);
    expect(roundTo(F32, 0.1)).toBe(0.10000000149011612);
    expect(roundTo(F64, 0.1)).toBe(0.1);
  });
});

describe('ulpOf golden vectors', () => {
  it('is the spacing of the binade, the smallest step for zero and subnormals', () => {
    expect(ulpOf(F16, 1)).toBe(2 ** -10);
    expect(ulpOf(F16, -1)).toBe(2 ** -10);
    expect(ulpOf(F16, 1 - 2 ** -11)).toBe(2 ** -11);
    expect(ulpOf(F16, 0)).toBe(2 ** -24);
    expect(ulpOf(F16, 2 ** -20)).toBe(2 ** -24);
    expect(ulpOf(F16, 65504)).toBe(32);
    expect(ulpOf(BF16, 1)).toBe(2 ** -7);
    expect(ulpOf(BF16, 3e38)).toBe(2 ** 120);
    expect(ulpOf(F32, 1)).toBe(2 ** -23);
    expect(ulpOf(F64, 1)).toBe(2 ** -52);
    expect(ulpOf(F64, 5e-324)).toBe(5e-324);
    expect(ulpOf(F64, 2 ** -1023)).toBe(5e-324);
    expect(ulpOf(F64, -(2 ** -1022))).toBe(5e-324);
    expect(ulpOf(F64, 0)).toBe(5e-324);
    expect(ulpOf(F16, Infinity)).toBeNaN();
    expect(ulpOf(F16, NaN)).toBeNaN();
  });
});

describe('encode golden vectors', () => {
  it('F16', () => {
    const values = [0, -0, 1, -2, 65504, 65520, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -14 - 2 ** -25, NaN, Infinity, -Infinity, 1 + 2 ** -11];
    expect([...new Uint16Array(encode(F16, values).buffer)]).toEqual([
      0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x0002, 0x0400, 0x7e00, 0x7c00, 0xfc00, 0x3c00,
    ]);
  });

  it('BF16', () => {
    const values = [0, -0, 1, -2, NaN, Infinity, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 2 ** -133, BF16.maxFinite, -1e-300];
    expect([...new Uint16Array(encode(BF16, values).buffer)]).toEqual([
      0x0000, 0x8000, 0x3f80, 0xc000, 0x7fc0, 0x7f80, 0x3f80, 0x3f82, 0x0001, 0x7f7f, 0x8000,
    ]);
  });

  it('F32 and F64', () => {
    expect([...new Float32Array(encode(F32, [1 + 2 ** -24, 0.1]).buffer)]).toEqual([1, Math.fround(0.1)]);
    expect([...new Float64Array(encode(F64, [0.1, -0]).buffer)]).toEqual([0.1, -0]);
  });

  for (const format of [F16, BF16]) {
    it(`${format.dtype}: every non-NaN code survives decode then encode`, () => {
      const { values } = allCodes(format);
      const codes = new Uint16Array(encode(format, values).buffer);
      for (let code = 0; code < 65536; code++) {
        if (Number.isNaN(values[code])) continue;
        if (codes[code] !== code) expect(codes[code]).toBe(code);
      }
    });
  }
});

/** Nearest value of a 16-bit format by search over its sorted finite values (an oracle independent of roundTo). */
function oracle(format: FloatFormat): (x: number) => number {
  const { values } = allCodes(format);
  const positive: { value: number; code: number }[] = [];
  for (let code = 0; code < 0x8000; code++) if (Number.isFinite(values[code])) positive.push({ value: values[code]!, code });
  const max = positive[positive.length - 1]!.value;
  const halfStep = (max - positive[positive.length - 2]!.value) / 2;
  return (x) => {
    const a = Math.abs(x);
    let nearest: number;
    if (a >= max + halfStep) nearest = Infinity;
    else {
      let lo = 0;
      let hi = positive.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (positive[mid]!.value <= a) lo = mid;
        else hi = mid;
      }
      const below = positive[lo]!;
      const above = positive[hi]!;
      const dBelow = a - below.value;
      const dAbove = above.value - a;
      if (a >= above.value) nearest = above.value;
      else if (dBelow < dAbove) nearest = below.value;
      else if (dAbove < dBelow) nearest = above.value;
      else nearest = below.code % 2 === 0 ? below.value : above.value;
    }
    return x < 0 || Object.is(x, -0) ? -nearest : nearest;
  };
}

describe('roundTo against a search oracle', () => {
  for (const format of [F16, BF16]) {
    it(`${format.dtype}`, () => {
      const nearest = oracle(format);
      const scale = format === F16 ? [-30, 17] : [-140, 129];
      const magnitudes = fc.tuple(fc.double({ min: 1, max: 2, noNaN: true }), fc.integer({ min: scale[0]!, max: scale[1]! }), fc.boolean());
      fc.assert(
        fc.property(magnitudes, ([m, e, negative]) => {
          const x = (negative ? -1 : 1) * m * 2 ** e;
          expect(roundTo(format, x)).toBe(nearest(x));
        }),
        { numRuns: 2000 },
      );
      // Exact midpoints between neighbours, where only ties-to-even decides.
      const { values } = allCodes(format);
      const expMask = ((1 << format.exponentBits) - 1) << format.mantissaBits;
      for (let code = 0; code + 1 < expMask; code += 37) {
        const mid = (values[code]! + values[code + 1]!) / 2;
        expect(roundTo(format, mid)).toBe(nearest(mid));
        expect(roundTo(format, mid)).toBe(code % 2 === 0 ? values[code] : values[code + 1]);
      }
    });
  }
});
