import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyMoments, PROFILE_BIN, PROFILE_BINS } from '../../src/engine/moments.js';
import { CHANCE_DISTANCE, summarizeProfile } from '../../src/fit/exact-hit-profile.js';

/** The summary by its definition: the first longest run at the maximum, and the median of the bins farther than CHANCE_DISTANCE from its middle, by sorting. */
function summaryByDefinition(hits: Float64Array, lo: number, width: number, informative: number) {
  const most = Math.max(...hits);
  let bestStart = 0;
  let bestLength = 0;
  for (let b = 0; b < hits.length; b++) {
    let end = b;
    while (end < hits.length && hits[end] === most) end++;
    if (end - b > bestLength) [bestStart, bestLength] = [b, end - b];
    if (end > b) b = end - 1;
  }
  const centre = (b: number) => lo + (b + 0.5) * width;
  const peak = (centre(bestStart) + centre(bestStart + bestLength - 1)) / 2;
  const far = Array.from(hits).filter((_, b) => Math.abs(centre(b) - peak) > CHANCE_DISTANCE).sort((a, b) => a - b);
  const chance = far.length === 0 ? 0 : far.length % 2 === 1 ? far[far.length >> 1]! : (far[far.length / 2 - 1]! + far[far.length / 2]!) / 2;
  return { peak, plateau: bestLength * width, hitShare: most / informative, chanceShare: chance / informative, informative };
}

describe('summarizeProfile', () => {
  it('equals its definition when the zeros outside the band are about half the far bins', () => {
    // The far-bin median's two order statistics fall among the zeros, at their edge, or
    // among the counted hits; plateau widths 1-4 give both parities of the far count.
    for (let width = 1; width <= 4; width++) {
      const near = 2 * Math.round(CHANCE_DISTANCE / PROFILE_BIN) + width;
      const far = PROFILE_BINS - near;
      for (let zeros = (far >> 1) - 3; zeros <= (far >> 1) + 3; zeros++) {
        const moments = emptyMoments(2, 0);
        const hits = moments.profile!.hits;
        const lo = zeros >> 1;
        const hi = PROFILE_BINS - (zeros - lo);
        for (let b = lo; b < hi; b++) hits[b] = 1 + (b % 37);
        for (let b = 2000; b < 2000 + width; b++) hits[b] = 1000;
        moments.informative.count = 10_000;
        const expected = summaryByDefinition(hits, moments.profile!.lo, moments.profile!.width, 10_000);
        expect(summarizeProfile(moments)).toEqual(expected);
      }
    }
  });

  it('equals its definition: ties between runs, plateaus wider than the chance window, peaks at either end', () => {
    const profile = fc.record({
      seed: fc.integer({ min: 1, max: 2 ** 30 }),
      runs: fc.array(fc.record({ at: fc.integer({ min: 0, max: PROFILE_BINS - 1 }), length: fc.integer({ min: 1, max: 600 }), height: fc.integer({ min: 1, max: 50 }) }), { maxLength: 4 }),
      noise: fc.integer({ min: 0, max: 20 }),
      // Hits only within a band (a small tensor's profile is mostly zeros), or none at all.
      band: fc.option(fc.tuple(fc.integer({ min: 0, max: PROFILE_BINS }), fc.integer({ min: 0, max: PROFILE_BINS }))),
      // Shifted below 0 where not 0 (a scan's never are; a weighted sum of profiles can be).
      shift: fc.constantFrom(0, 0, 0, -30),
    });
    fc.assert(
      fc.property(profile, ({ seed, runs, noise, band, shift }) => {
        const moments = emptyMoments(2, 0);
        const hits = moments.profile!.hits;
        let state = seed;
        for (let b = 0; b < hits.length; b++) {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          hits[b] = state % (noise + 1);
        }
        for (const run of runs) for (let b = run.at; b < Math.min(hits.length, run.at + run.length); b++) hits[b] = noise + run.height;
        if (band) for (let b = 0; b < hits.length; b++) if (b < Math.min(...band) || b >= Math.max(...band)) hits[b] = 0;
        for (let b = 0; b < hits.length; b++) if (hits[b] !== 0) hits[b]! += shift;
        moments.informative.count = 10_000;
        const expected = summaryByDefinition(hits, moments.profile!.lo, moments.profile!.width, 10_000);
        expect(summarizeProfile(moments)).toEqual(expected);
      }),
      { numRuns: 600 },
    );
  });
});
