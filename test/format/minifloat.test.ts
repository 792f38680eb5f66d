import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMinifloat, MINIFLOAT_FORMATS, minifloatFormat, nearestCode, type MinifloatFormat } from '../../src/format/minifloat.js';

const { F8_E4M3, F8_E5M2, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, F6_E2M3, F6_E3M2, F4 } = MINIFLOAT_FORMATS;

function value(format: MinifloatFormat, code: number): number {
  return format.values[code]!;
}

describe('golden values from the format definitions', () => {
  it('F8_E4M3 (E4M3FN): zero, subnormals, 1, max 448, NaN only at S.1111.111', () => {
    expect(value(F8_E4M3, 0x00)).toBe(0);
    expect(Object.is(value(F8_E4M3, 0x80), -0)).toBe(true);
    expect(value(F8_E4M3, 0x01)).toBe(2 ** -9);
    expect(value(F8_E4M3, 0x07)).toBe(7 * 2 ** -9);
    expect(value(F8_E4M3, 0x08)).toBe(2 ** -6);
    expect(value(F8_E4M3, 0x38)).toBe(1);
    expect(value(F8_E4M3, 0x7e)).toBe(448);
    expect(value(F8_E4M3, 0xfe)).toBe(-448);
    expect(value(F8_E4M3, 0x78)).toBe(256); // exponent 15 is finite in FN
    expect(Number.isNaN(value(F8_E4M3, 0x7f))).toBe(true);
    expect(Number.isNaN(value(F8_E4M3, 0xff))).toBe(true);
    expect(F8_E4M3.maxFinite).toBe(448);
  });

  it('F8_E5M2: IEEE-like with infinities', () => {
    expect(value(F8_E5M2, 0x01)).toBe(2 ** -16);
    expect(value(F8_E5M2, 0x04)).toBe(2 ** -14);
    expect(value(F8_E5M2, 0x3c)).toBe(1);
    expect(value(F8_E5M2, 0x7b)).toBe(57344);
    expect(value(F8_E5M2, 0x7c)).toBe(Infinity);
    expect(value(F8_E5M2, 0xfc)).toBe(-Infinity);
    expect(Number.isNaN(value(F8_E5M2, 0x7d))).toBe(true);
    expect(F8_E5M2.maxFinite).toBe(57344);
  });

  it('F8_E8M0: 2^(e − 127), no zero, 0xFF NaN', () => {
    expect(value(F8_E8M0, 0)).toBe(2 ** -127);
    expect(value(F8_E8M0, 127)).toBe(1);
    expect(value(F8_E8M0, 130)).toBe(8);
    expect(value(F8_E8M0, 254)).toBe(2 ** 127);
    expect(Number.isNaN(value(F8_E8M0, 255))).toBe(true);
  });

  it('FNUZ variants: bias 8 and 16, 0x80 is the only NaN, no infinities', () => {
    expect(value(F8_E4M3FNUZ, 0x40)).toBe(1);
    expect(value(F8_E4M3FNUZ, 0x7f)).toBe(240);
    expect(value(F8_E4M3FNUZ, 0x01)).toBe(2 ** -10);
    expect(Number.isNaN(value(F8_E4M3FNUZ, 0x80))).toBe(true);
    expect(value(F8_E4M3FNUZ, 0xff)).toBe(-240);
    expect(value(F8_E5M2FNUZ, 0x40)).toBe(1);
    expect(value(F8_E5M2FNUZ, 0x7f)).toBe(57344);
    expect(Number.isNaN(value(F8_E5M2FNUZ, 0x80))).toBe(true);
  });

  it('F4 (E2M1): 0 0.5 1 1.5 2 3 4 6 and their negatives', () => {
    expect([...F4.values]).toEqual([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6]);
  });

  it('F6_E2M3 and F6_E3M2: subnormal steps and maxima', () => {
    expect(value(F6_E2M3, 0x01)).toBe(0.125);
    expect(value(F6_E2M3, 0x1f)).toBe(7.5);
    expect(value(F6_E2M3, 0x3f)).toBe(-7.5);
    expect(value(F6_E3M2, 0x01)).toBe(0.0625);
    expect(value(F6_E3M2, 0x1f)).toBe(28);
    expect(F6_E3M2.maxFinite).toBe(28);
  });
});

describe('rounding cells', () => {
  it('are the spacing, halved below positive powers of two, and the subnormal step at zero', () => {
    // E4M3 1.0 = 0x38: spacing 1/8 above, 1/16 below.
    expect([F8_E4M3.above[0x38], F8_E4M3.below[0x38]]).toEqual([0.125, 0.0625]);
    expect([F8_E4M3.above[0xb8], F8_E4M3.below[0xb8]]).toEqual([0.0625, 0.125]);
    expect([F8_E4M3.above[0x00], F8_E4M3.below[0x00]]).toEqual([2 ** -9, 2 ** -9]);
    // The first normal binade's power of two borders the subnormals: same step both sides.
    expect([F8_E4M3.above[0x08], F8_E4M3.below[0x08]]).toEqual([2 ** -9, 2 ** -9]);
    expect([F4.above[7], F4.below[7]]).toEqual([2, 2]); // 6: spacing 2
    expect([F4.above[6], F4.below[6]]).toEqual([2, 1]); // 4: 3 below, 6 above
    expect([F8_E8M0.above[127], F8_E8M0.below[127]]).toEqual([1, 0.5]);
    expect(Number.isNaN(F8_E4M3.above[0x7f]!)).toBe(true);
    expect(Number.isNaN(F8_E5M2.below[0x7c]!)).toBe(true);
  });

  it('contain exactly the reals that round to the code (every finite interior code)', () => {
    for (const format of [F8_E4M3, F8_E5M2, F6_E2M3, F6_E3M2, F4]) {
      for (let code = 0; code < format.values.length; code++) {
        const v = format.values[code]!;
        if (!Number.isFinite(v) || Math.abs(v) === format.maxFinite) continue;
        const up = v + format.above[code]! / 2;
        const down = v - format.below[code]! / 2;
        // Just inside the cell rounds to v; just outside does not.
        // (== rather than toBe: ±0 are one value here.)
        expect(format.values[nearestCode(format, v + (up - v) * 0.999)] === v).toBe(true);
        expect(format.values[nearestCode(format, v - (v - down) * 0.999)] === v).toBe(true);
        expect(format.values[nearestCode(format, up + (up - v) * 0.01)] === v).toBe(false);
      }
    }
  });
});

describe('decodeMinifloat', () => {
  it('reads F4 low nibble first, from any starting code', () => {
    const bytes = Uint8Array.from([0x71, 0xf8]); // codes 1, 7, 8, 15
    const out = new Float64Array(3);
    const above = new Float64Array(3);
    decodeMinifloat(F4, bytes, 1, 3, out, above);
    expect([...out]).toEqual([6, -0, -6]);
    expect([...above]).toEqual([2, 0.5, 2]); // −6 is no power of two: spacing 2 on both sides
  });

  it('reads 8-bit codes one per byte', () => {
    const out = new Float64Array(2);
    decodeMinifloat(F8_E4M3, Uint8Array.from([0x00, 0x38, 0x7e]), 1, 2, out);
    expect([...out]).toEqual([1, 448]);
  });
});

describe('nearestCode', () => {
  it('rounds to nearest, ties to even, and saturates', () => {
    expect(value(F8_E4M3, nearestCode(F8_E4M3, 1 + 1 / 16))).toBe(1); // tie → even mantissa
    expect(value(F8_E4M3, nearestCode(F8_E4M3, 1 + 3 / 16))).toBe(1.25);
    expect(value(F8_E4M3, nearestCode(F8_E4M3, 1e6))).toBe(448);
    expect(value(F8_E4M3, nearestCode(F8_E4M3, -1e6))).toBe(-448);
    expect(value(F4, nearestCode(F4, 5))).toBe(4); // tie between 4 and 6 → even code 6 (4.0)
    expect(value(F4, nearestCode(F4, -2.6))).toBe(-3);
    expect(() => nearestCode(F8_E8M0, -1)).toThrow(RangeError);
  });

  it('round-trips every finite code', () => {
    for (const format of Object.values(MINIFLOAT_FORMATS)) {
      for (let code = 0; code < format.values.length; code++) {
        const v = format.values[code]!;
        if (!Number.isFinite(v)) continue;
        expect(format.values[nearestCode(format, v)]).toBe(v);
      }
    }
  });

  it('never lands farther than half a cell from x', () => {
    fc.assert(
      fc.property(fc.double({ min: -400, max: 400, noNaN: true }), (x) => {
        const code = nearestCode(F8_E4M3, x);
        const v = F8_E4M3.values[code]!;
        const half = (x >= v ? F8_E4M3.above[code]! : F8_E4M3.below[code]!) / 2;
        return Math.abs(x - v) <= half;
      }),
    );
  });

  it('finds formats by dtype name', () => {
    expect(minifloatFormat('F8_E4M3')).toBe(F8_E4M3);
    expect(minifloatFormat('BF16')).toBeNull();
  });
});
