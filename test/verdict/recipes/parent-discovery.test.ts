import { describe, expect, it } from 'vitest';
import { FLOAT_FORMATS, roundTo } from '../../../src/format/dtype.js';
import { subsetFits } from '../../../src/fit/recipes/subset-fits.js';
import { discoverParents } from '../../../src/verdict/recipes/parent-discovery.js';
import { DEFAULT_THRESHOLDS } from '../../../src/verdict/thresholds.js';
import { referenceMoments } from '../../helpers/reference-moments.js';
import { blendInFloat32, fineTuneDelta, fineTunes, random } from '../../fit/synthetic.js';

const BF16 = FLOAT_FORMATS.BF16;

/** Three tensors, each with five candidate fine-tunes of one base, `ulps` steps apart from it. */
function candidates(ulps: number): Float64Array[][] {
  return [31, 32, 33].map((seed) => fineTunes(BF16, 40, 64, 5, ulps, seed));
}

function discover(tensors: Float64Array[][], suspectOf: (parents: Float64Array[], t: number) => Float64Array, reference = 0) {
  return discoverParents(
    tensors.map((parents, t) =>
      subsetFits(referenceMoments(suspectOf(parents, t), parents, BF16, reference, DEFAULT_THRESHOLDS.informativeUlps)),
    ),
  )!;
}

function trained(values: Float64Array, relative: number, seed: number): Float64Array {
  const norm = Math.sqrt(values.reduce((s, x) => s + x * x, 0) / values.length);
  const delta = fineTuneDelta(40, 64, relative * norm, random(seed));
  return values.map((x, i) => roundTo(BF16, x + delta[i]!));
}

describe('subsetFits', () => {
  it('fits a subset that leaves out the reference, with its weights summing to 1', () => {
    const parents = fineTunes(BF16, 40, 64, 3, 8, 5);
    const suspect = blendInFloat32(BF16, [parents[1]!, parents[2]!], [0.3, 0.7]);
    const fits = subsetFits(referenceMoments(suspect, parents, BF16, 0, 4));
    const mask = 0b110;
    expect(fits.weights[mask * 3 + 0]).toBe(0);
    expect(fits.weights[mask * 3 + 1]!).toBeCloseTo(0.3, 2);
    expect(fits.weights[mask * 3 + 2]!).toBeCloseTo(0.7, 2);
    // The true subset is at the rounding floor; a single parent is far from it.
    expect(fits.rss[mask]! / fits.floor).toBeLessThan(1.5);
    expect(fits.rss[0b010]! / fits.floor).toBeGreaterThan(100);
  });
});

describe('discoverParents', () => {
  for (const ulps of [2, 8]) {
    it(`finds the two merged parents among five candidates (${ulps} steps apart) and says the others add nothing`, () => {
      const found = discover(candidates(ulps), (p) => blendInFloat32(BF16, [p[1]!, p[3]!], [0.4, 0.6]));
      expect(found.explaining).toEqual([1, 3]);
      expect([...found.addNothing].sort()).toEqual([0, 2, 4]);
      expect(found.weights[1]!).toBeCloseTo(0.4, 1);
      expect(found.weights[3]!).toBeCloseTo(0.6, 1);
      expect(found.noiseRatioExplaining).toBeLessThan(1.5);
      for (const { noiseRatio } of found.withoutEach) expect(noiseRatio).toBeGreaterThan(3);
    });
  }

  it('finds three merged parents, whichever is the reference', () => {
    const found = discover(candidates(4), (p) => blendInFloat32(BF16, [p[0]!, p[2]!, p[4]!], [0.5, 0.3, 0.2]), 1);
    expect(found.explaining).toEqual([0, 2, 4]);
    expect(found.weights[0]!).toBeCloseTo(0.5, 1);
  });

  it('finds the merged parents after training on top of the merge', () => {
    const found = discover(candidates(8), (p, t) => trained(blendInFloat32(BF16, [p[2]!, p[4]!], [0.5, 0.5]), 0.003, 90 + t));
    expect(found.explaining).toEqual([2, 4]);
  });

  it('names one parent for a plain fine-tune of it, not a merge', () => {
    const found = discover(candidates(8), (p, t) => trained(p[3]!, 0.003, 70 + t));
    expect(found.explaining).toEqual([3]);
    expect(found.withoutEach).toEqual([]);
  });
});
