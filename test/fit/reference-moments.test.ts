import { describe, expect, it } from 'vitest';
import { addMoments, emptyMoments, PROFILE_BINS } from '../../src/engine/moments.js';
import { FLOAT_FORMATS } from '../../src/format/dtype.js';
import { cellOf, referenceMoments } from '../helpers/reference-moments.js';

const BF16 = FLOAT_FORMATS.BF16;

/** The bins with hits, as [first, last] runs of value 1. */
function hitBins(hits: Float64Array): number[] {
  const bins: number[] = [];
  hits.forEach((count, bin) => {
    for (let c = 0; c < count; c++) bins.push(bin);
  });
  return bins;
}

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

describe('referenceMoments', () => {
  it('matches a small case computed by hand', () => {
    // Element 3 has a NaN parent and is excluded from every sum.
    const a = Float64Array.of(1, 2, 0.25, NaN);
    const b = Float64Array.of(1.0625, 2, 0.25, 1);
    const s = Float64Array.of(1.03125, 2, 0.251953125, 5);
    const m = referenceMoments(s, [a, b], BF16, 0, 4);
    expect(m.elements).toBe(4);
    expect(m.used).toBe(3);
    expect(m.nonFinite).toBe(1);
    // [r, d, e] per element: [1, 1/16, 1/32], [2, 0, 0], [1/4, 0, 2^-9].
    const rr = 1 + 4 + 1 / 16;
    const rd = 1 / 16;
    const re = 1 / 32 + 2 ** -11;
    const dd = 2 ** -8;
    const de = 2 ** -9;
    const ee = 2 ** -10 + 2 ** -18;
    expect(Array.from(m.gram)).toEqual([rr, rd, re, rd, dd, de, re, de, ee]);
    // bf16 steps of s: 2^-7 at 1.03125, 2^-6 at 2, 2^-9 at 0.2519.
    expect(m.floor).toBe((2 ** -14 + 2 ** -12 + 2 ** -18) / 12);
    expect(m.floorVar).toBe((2 ** -28 + 2 ** -24 + 2 ** -36) / 180);
    expect(Array.from(m.equal)).toEqual([1, 1]);
    expect(m.parentsEqual).toBe(2);
    // Only element 0 has |d| = 2^-4 ≥ 4·2^-7.
    expect(m.informative.count).toBe(1);
    expect(Array.from(m.informative.gram)).toEqual([1, 1 / 16, 1 / 32, 1 / 16, 2 ** -8, 2 ** -9, 1 / 32, 2 ** -9, 2 ** -10]);
    expect(m.informative.floor).toBe(2 ** -14 / 12);
    // Cell [1.03125 ∓ 2^-8] → w ∈ [0.4375, 0.5625]: centres −0.5 + b/2000 → bins 1875 … 2125.
    expect(hitBins(m.profile!.hits)).toEqual(range(1875, 2125));
  });

  it('counts a bin whose centre lies exactly on the cell boundary', () => {
    // a = 0, d = 1000·2^-15, s = 200·2^-15 (bf16 step 2^-15): the cell [199.5, 200.5]·2^-15
    // maps to w ∈ [0.1995, 0.2005], whose ends are exactly the centres of bins 1399 and 1401.
    const m = referenceMoments(Float64Array.of(200 * 2 ** -15), [Float64Array.of(0), Float64Array.of(1000 * 2 ** -15)], BF16, 0, 4);
    expect(hitBins(m.profile!.hits)).toEqual([1399, 1400, 1401]);
  });

  it('uses the finer grid below a power of two, on the side toward zero', () => {
    expect(cellOf(BF16, 0.5)).toEqual({ below: 2 ** -9, above: 2 ** -8 });
    expect(cellOf(BF16, -0.5)).toEqual({ below: 2 ** -8, above: 2 ** -9 });
    expect(cellOf(BF16, 0.75)).toEqual({ below: 2 ** -8, above: 2 ** -8 });
    expect(cellOf(BF16, 0)).toEqual({ below: 2 ** -133, above: 2 ** -133 });
    // The smallest normal has subnormal spacing below it: no halving.
    expect(cellOf(BF16, 2 ** -126)).toEqual({ below: 2 ** -133, above: 2 ** -133 });
    // s = 0.5: cell [0.5 − 2^-10, 0.5 + 2^-9]; a = 0.5, d = ±1/16.
    const up = referenceMoments(Float64Array.of(0.5), [Float64Array.of(0.5), Float64Array.of(0.5625)], BF16, 0, 4);
    expect(hitBins(up.profile!.hits)).toEqual(range(969, 1062)); // w ∈ [−1/64, 1/32]
    const down = referenceMoments(Float64Array.of(0.5), [Float64Array.of(0.5), Float64Array.of(0.4375)], BF16, 0, 4);
    expect(hitBins(down.profile!.hits)).toEqual(range(938, 1031)); // w ∈ [−1/32, 1/64]
  });

  it('orders the differences by --parents order around the reference', () => {
    // Reference 1 of three: vectors [p1, p0 − p1, p2 − p1, s − p1].
    const m = referenceMoments(Float64Array.of(3), [Float64Array.of(1), Float64Array.of(2), Float64Array.of(4)], BF16, 1, 4);
    const v = [2, -1, 2, 1];
    expect(Array.from(m.gram)).toEqual(v.flatMap((x) => v.map((y) => x * y)));
    expect(m.profile).toBeNull();
  });

  it('is additive: moments of two halves add up to the moments of the whole', () => {
    const s = Float64Array.of(1.03125, 2, 0.251953125, 0.5, -0.5);
    const a = Float64Array.of(1, 2, 0.25, 0.5, -0.4375);
    const b = Float64Array.of(1.0625, 2, 0.25, 0.5625, -0.5);
    const whole = referenceMoments(s, [a, b], BF16, 0, 4);
    const sum = emptyMoments(2, 0);
    addMoments(sum, referenceMoments(s.subarray(0, 2), [a.subarray(0, 2), b.subarray(0, 2)], BF16, 0, 4));
    addMoments(sum, referenceMoments(s.subarray(2), [a.subarray(2), b.subarray(2)], BF16, 0, 4));
    expect(sum).toEqual(whole);
    expect(whole.profile!.hits.length).toBe(PROFILE_BINS);
  });
});
