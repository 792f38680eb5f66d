import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyMoments, PROFILE_BIN, PROFILE_BINS, PROFILE_LO, type TensorMoments } from '../../src/engine/moments.js';
import { seededUniform } from '../../src/engine/sample-plan.js';
import { ProfileSum, readProfile, summarizeProfile } from '../../src/fit/exact-hit-profile.js';
import { bootstrapFits, percentileInterval } from '../../src/fit/sampling-intervals.js';
import { fitTensor, type TensorFit } from '../../src/fit/tensor-fit.js';
import { referenceMoments } from '../helpers/reference-moments.js';
import { blendInFormat, blendRoundedOnce, fineTunes, gaussian, random } from './synthetic.js';
import { FLOAT_FORMATS } from '../../src/format/dtype.js';

/** Moments holding only what summarizeProfile reads: a profile and an informative count. */
function profileMoments(hits: Float64Array, lo: number, width: number, informative: number): TensorMoments {
  const moments = { ...emptyMoments(2, 0), profile: { lo, width, hits } };
  moments.informative.count = informative;
  return moments;
}

/** Σ weights[g]·parts[g], added part by part into zeros as a dense resample does. */
function denseSum(parts: readonly Float64Array[], weights: readonly number[]): Float64Array {
  const sum = new Float64Array(parts[0]!.length);
  for (const [g, part] of parts.entries()) {
    if (weights[g] === 0) continue;
    for (let b = 0; b < sum.length; b++) sum[b]! += weights[g]! * part[b]!;
  }
  return sum;
}

/**
 * Profiles shaped like real ones: a bump (a blend's peak, or a fine-tune's broad hump)
 * over a sloping chance level, with noise; `levels` small makes ties and plateaus common.
 */
const partsArbitrary = fc
  .record({
    bins: fc.oneof(fc.integer({ min: 1, max: 400 }), fc.constant(PROFILE_BINS)),
    width: fc.constantFrom(0.0005, 0.004, 0.02),
    parts: fc.integer({ min: 1, max: 16 }),
    centre: fc.double({ min: 0, max: 1, noNaN: true }),
    spread: fc.double({ min: 0.001, max: 0.5, noNaN: true }),
    height: fc.integer({ min: 0, max: 5000 }),
    slope: fc.integer({ min: 0, max: 200 }),
    levels: fc.constantFrom(2, 4, 1000, 1e6),
    seed: fc.integer({ min: 0, max: 2 ** 31 }),
  })
  .map(({ bins, width, parts, centre, spread, height, slope, levels, seed }) => {
    const next = random(seed);
    const lo = -0.5 - width / 2;
    const made = Array.from({ length: parts }, () => {
      const part = new Float64Array(bins);
      const scale = next();
      for (let b = 0; b < bins; b++) {
        const w = lo + (b + 0.5) * width;
        const bump = height * scale * Math.exp(-(((w - centre) / spread) ** 2));
        const value = bump + slope * (1 - Math.abs(w - 0.5)) + 20 * next();
        part[b] = Math.floor(value) % levels;
      }
      return part;
    });
    return { lo, width, parts: made };
  });

const weightsArbitrary = (parts: number) => fc.array(fc.integer({ min: 0, max: 5 }), { minLength: parts, maxLength: parts });

describe('ProfileSum', () => {
  it('summarizes a weighted sum of profiles exactly as summarizeProfile does the added-up profile', () => {
    fc.assert(
      fc.property(
        partsArbitrary.chain((p) => fc.tuple(fc.constant(p), weightsArbitrary(p.parts.length), fc.integer({ min: 1, max: 1e7 }))),
        ([{ lo, width, parts }, weights, informative]) => {
          const sum = new ProfileSum(parts, lo, width);
          sum.weigh(weights);
          const dense = denseSum(parts, weights);
          const expected = summarizeProfile(profileMoments(dense, lo, width, informative));
          expect(sum.summarize(informative)).toEqual(expected);
          for (let b = 0; b < dense.length; b += 7) expect(sum.at(b)).toBe(dense[b]);
          expect(Array.from(sum.hits)).toEqual(Array.from(dense));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('reads the same profile (clear, beats, hitsAt) through readProfile', () => {
    fc.assert(
      fc.property(
        partsArbitrary.chain((p) => fc.tuple(fc.constant(p), weightsArbitrary(p.parts.length), fc.integer({ min: 1, max: 1e5 }))),
        ([{ lo, width, parts }, weights, informative]) => {
          const sum = new ProfileSum(parts, lo, width);
          sum.weigh(weights);
          const fast = readProfile({ ...profileMoments(new Float64Array(0), lo, width, informative), profile: sum });
          const slow = readProfile(profileMoments(denseSum(parts, weights), lo, width, informative));
          expect(fast?.summary).toEqual(slow?.summary);
          expect(fast?.clear).toBe(slow?.clear);
          for (const w of [-0.6, -0.5, 0, 0.3, 0.6, 1, 1.5, 1.6]) {
            expect(fast?.hitsAt(w)).toBe(slow?.hitsAt(w));
            expect(fast?.beats(w)).toBe(slow?.beats(w));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps a plateau that crosses a block boundary, and the first of equal plateaus', () => {
    const hits = new Float64Array(PROFILE_BINS).fill(3);
    for (let b = 1990; b < 2010; b++) hits[b] = 50; // 32-bin blocks: 1984–2015, one block
    for (let b = 2040; b < 2060; b++) hits[b] = 50; // crosses 2048
    for (let b = 3000; b < 3020; b++) hits[b] = 50;
    const sum = new ProfileSum([hits, hits], PROFILE_LO, PROFILE_BIN);
    sum.weigh([1, 2]);
    const summary = sum.summarize(1000)!;
    expect(summary.hitShare).toBe(0.15);
    expect(summary.plateau).toBeCloseTo(20 * PROFILE_BIN, 15);
    expect(summary.peak).toBeCloseTo(PROFILE_LO + 2000 * PROFILE_BIN, 12);
    expect(summary.chanceShare).toBe(0.009);
  });
});

/** The bootstrap as it was: every replicate's sums (those fitTensor reads) added up in full, group by group, then refitted. */
function denseReplicates(groups: readonly TensorMoments[], replicates: number, seed: number): TensorFit[] {
  const next = seededUniform(seed, 0x5eed);
  const fits: TensorFit[] = [];
  for (let r = 0; r < replicates; r++) {
    const counts = new Array<number>(groups.length).fill(0);
    for (let i = 0; i < groups.length; i++) counts[Math.floor(next() * groups.length)]!++;
    const total = emptyMoments(2, 0);
    const add = (into: Float64Array, part: Float64Array, c: number): void => {
      for (let i = 0; i < into.length; i++) into[i]! += c * part[i]!;
    };
    for (const [g, part] of groups.entries()) {
      const c = counts[g]!;
      if (c === 0) continue;
      total.elements += c * part.elements;
      total.used += c * part.used;
      total.nonFinite += c * part.nonFinite;
      add(total.gram, part.gram, c);
      total.floor += c * part.floor;
      total.floorVar += c * part.floorVar;
      add(total.equal, part.equal, c);
      total.parentsEqual += c * part.parentsEqual;
      total.informative.count += c * part.informative.count;
      add(total.informative.gram, part.informative.gram, c);
      total.informative.floor += c * part.informative.floor;
      add(total.profile!.hits, part.profile!.hits, c);
    }
    fits.push(fitTensor(total));
  }
  return fits;
}

describe('bootstrapFits', () => {
  const BF16 = FLOAT_FORMATS.BF16;
  const ROWS = 64;
  const COLS = 512;

  /** Block moments of a suspect against two parents, dealt into `groups` groups of rows. */
  function grouped(suspect: Float64Array, a: Float64Array, b: Float64Array, groups: number): TensorMoments[] {
    const rowsPer = ROWS / groups;
    const out: TensorMoments[] = [];
    for (let g = 0; g < groups; g++) {
      const range = { from: g * rowsPer * COLS, to: (g + 1) * rowsPer * COLS };
      out.push(referenceMoments(suspect.subarray(range.from, range.to), [a.subarray(range.from, range.to), b.subarray(range.from, range.to)], BF16, 0, 4));
    }
    return out;
  }

  it('gives every replicate the fit of its added-up sums (an exact blend: weights from the profile)', () => {
    const [a, b] = fineTunes(BF16, ROWS, COLS, 2, 6, 3);
    const groups = grouped(blendRoundedOnce(BF16, [a!, b!], [0.4, 0.6]), a!, b!, 16);
    const fits: TensorFit[] = [];
    bootstrapFits(groups, 60, 7, (fit) => fits.push(fit));
    const expected = denseReplicates(groups, 60, 7);
    expect(fits.map((f) => f.weightMethod)).toContain('exact-hit-profile');
    expect(fits).toEqual(expected);
  });

  it('gives every replicate the fit of its added-up sums (a blend then trained: least squares)', () => {
    const [a, b] = fineTunes(BF16, ROWS, COLS, 2, 6, 5);
    const next = random(9);
    const blend = blendInFormat(BF16, [a!, b!], [0.7, 0.3]);
    const trained = Float64Array.from(blend, (x) => x + 3e-4 * gaussian(next));
    const groups = grouped(trained, a!, b!, 8);
    const fits: TensorFit[] = [];
    bootstrapFits(groups, 60, 11, (fit) => fits.push(fit));
    expect(fits).toEqual(denseReplicates(groups, 60, 11));
  });
});

describe('percentileInterval', () => {
  it('takes the nearest ranks of the sorted values, ignoring NaN', () => {
    const values = [5, Number.NaN, 1, 4, 2, 3];
    expect(percentileInterval(values, 0.5)).toEqual([2, 4]);
    expect(percentileInterval([Number.NaN], 0.95)).toEqual([Number.NaN, Number.NaN]);
  });
});
