import { describe, expect, it } from 'vitest';
import { FLOAT_FORMATS } from '../../src/format/dtype.js';
import { compileRecipe, replayRecipe } from '../../src/engine/recipes/merge-arithmetic.js';
import { fitTensor } from '../../src/fit/tensor-fit.js';
import { measureRecipes } from '../../src/partial/tensor-recipes.js';
import { referenceMoments } from '../helpers/reference-moments.js';
import { fineTunes } from '../fit/synthetic.js';
import { inMemoryTensor } from '../engine/recipes/cells.js';

const BF16 = FLOAT_FORMATS.BF16;
const F32 = FLOAT_FORMATS.F32;

describe('measureRecipes', () => {
  it('finds the recipe of a bf16 merge and replaces the Gram residual by the direct one', async () => {
    const parents = fineTunes(BF16, 32, 64, 2, 6, 41);
    const suspect = new Float64Array(parents[0]!.length);
    replayRecipe(compileRecipe({ weights: [0.35, 0.65], arithmetic: 'torch-in-dtype', normalise: true }, BF16), parents, suspect.length, suspect);
    const moments = referenceMoments(suspect, parents, BF16, 0, 4);
    const fit = fitTensor(moments);
    const { fit: measured, recipes } = await measureRecipes(
      [{ suspect: inMemoryTensor(suspect, BF16), parents: parents.map((p) => inMemoryTensor(p, BF16)) }],
      moments,
      fit,
      { reference: 0, informativeUlps: 4, replayFormat: BF16, chunkElements: 700 },
    );
    expect(measured.rssMethod).toBe('direct');
    // For a bf16 suspect the Gram formula is accurate: both agree closely.
    expect(measured.noiseRatio).toBeCloseTo(fit.noiseRatio, 6);
    expect(recipes!.replayed).toBe(suspect.length);
    const best = recipes!.candidates[0]!;
    expect([best.arithmetic, best.weights, best.reproduced]).toEqual(['torch-in-dtype', [0.35, 0.65], suspect.length]);
  });

  it('measures an F32 suspect of far-apart parents at its rounding floor, where the Gram residual cancels', async () => {
    const parents = fineTunes(BF16, 32, 64, 2, 60, 43);
    const suspect = new Float64Array(parents[0]!.length);
    replayRecipe(compileRecipe({ weights: [0.3, 0.7], arithmetic: 'float32', normalise: false }, F32), parents, suspect.length, suspect);
    const moments = referenceMoments(suspect, parents, F32, 0, 4);
    const fit = fitTensor(moments);
    const { fit: measured } = await measureRecipes(
      [{ suspect: inMemoryTensor(suspect, F32), parents: parents.map((p) => inMemoryTensor(p, BF16)) }],
      moments,
      { ...fit, weights: [0.3, 0.7] },
      { reference: 0, informativeUlps: 4, replayFormat: F32 },
    );
    // The moments' Gram formula cancels to 0 here: far below any rounding a merge leaves.
    expect(fit.noiseRatio).toBeLessThan(0.5);
    // Float32 products and sum, each rounded: a little over one floor (measured 1.31).
    expect(measured.noiseRatio).toBeGreaterThan(1);
    expect(measured.noiseRatio).toBeLessThan(1.6);
  });

  it('replays nothing without a replay format, and still measures the residual', async () => {
    const parents = fineTunes(BF16, 8, 8, 2, 6, 47);
    const moments = referenceMoments(parents[1]!, parents, BF16, 0, 4);
    const { recipes, fit } = await measureRecipes(
      [{ suspect: inMemoryTensor(parents[1]!, BF16), parents: parents.map((p) => inMemoryTensor(p, BF16)) }],
      moments,
      fitTensor(moments),
      { reference: 0, informativeUlps: 4, replayFormat: null },
    );
    expect(recipes!.candidates).toEqual([]);
    expect(fit.rssMethod).toBe('direct');
  });
});
