import { describe, expect, it } from 'vitest';
import { FLOAT_FORMATS } from '../../../src/format/dtype.js';
import { compileRecipe, replayRecipe } from '../../../src/engine/recipes/merge-arithmetic.js';
import { readSlerp } from '../../../src/fit/recipes/slerp-reading.js';
import { seriesAcos, seriesCos, seriesSin, slerp } from '../../../scripts/fixture-lib/mergekit-methods.js';
import { referenceMoments } from '../../helpers/reference-moments.js';
import { blendInFloat32, fineTunes } from '../synthetic.js';

const BF16 = FLOAT_FORMATS.BF16;

function read(suspect: Float64Array, parents: Float64Array[], reference = 0) {
  return readSlerp(referenceMoments(suspect, parents, BF16, reference, 4), BF16)!;
}

describe('the fixtures’ deterministic trigonometry', () => {
  it('agrees with Math to float64 accuracy', () => {
    for (const x of [1e-4, 0.01, 0.3, 1, 2.5]) {
      expect(seriesSin(x)).toBeCloseTo(Math.sin(x), 15);
      expect(seriesCos(x)).toBeCloseTo(Math.cos(x), 15);
      expect(seriesAcos(Math.cos(x))).toBeCloseTo(x, 7);
    }
  });
});

describe('readSlerp', () => {
  // Fine-tunes 40 steps from their base: about 0.33 rad apart, far enough for SLERP to show.
  const far = fineTunes(BF16, 48, 64, 2, 40, 3);
  const close = fineTunes(BF16, 48, 64, 2, 2, 4);

  it('recovers t of a SLERP between distant parents and rules out a linear blend', () => {
    const merged = slerp(0.3, far[0]!, far[1]!);
    expect(merged.angle).toBeGreaterThan(0.2);
    const reading = read(merged.values, far);
    expect(reading.angle).toBeCloseTo(merged.angle, 6);
    expect(reading.t).toBeCloseTo(0.3, 2);
    expect(reading.sum).toBeCloseTo(merged.coefficients[0] + merged.coefficients[1], 3);
    expect(reading.consistent).toEqual(['slerp']);
    expect(reading.separation).toBeGreaterThan(5);
  });

  it('reads the same t whichever parent is the reference', () => {
    const merged = slerp(0.7, far[0]!, far[1]!);
    expect(read(merged.values, far, 1).t).toBeCloseTo(0.7, 2);
  });

  it('calls a linear blend of distant parents linear, not SLERP', () => {
    const reading = read(blendInFloat32(BF16, far, [0.7, 0.3]), far);
    expect(reading.consistent).toEqual(['linear']);
    expect(reading.t).toBeCloseTo(0.3, 1);
  });

  it('says SLERP and linear cannot be told apart for nearly parallel parents', () => {
    const merged = slerp(0.3, close[0]!, close[1]!);
    const reading = read(merged.values, close);
    expect(reading.consistent).toContain('linear');
    expect(reading.consistent).toContain('slerp');
    expect(reading.separation).toBeLessThan(2);
  });

  it('recognises a mergekit bf16 linear merge by its bf16 weight sum 1.001953125', () => {
    const parents = fineTunes(BF16, 48, 64, 2, 8, 5);
    const out = new Float64Array(parents[0]!.length);
    replayRecipe(compileRecipe({ weights: [0.4, 0.6], arithmetic: 'torch-in-dtype', normalise: true }, BF16), parents, out.length, out);
    const reading = read(out, parents);
    expect(reading.formatWeightsSum).toBe(1.001953125);
    expect(reading.consistent).toContain('linear-format-weights');
    expect(reading.consistent).not.toContain('linear');
  });
});
