import { describe, expect, it } from 'vitest';
import { FLOAT_FORMATS } from '../../../src/format/dtype.js';
import { accumulateElementwise, emptyElementwiseSums } from '../../../src/engine/recipes/elementwise-sums.js';
import { compileRecipe, replayRecipe, type MergeRecipe } from '../../../src/engine/recipes/merge-arithmetic.js';
import { recipePass } from '../../../src/engine/recipes/recipe-pass.js';
import { fineTunes } from '../../fit/synthetic.js';
import { cellsOf, inMemoryTensor as inMemory } from './cells.js';

const F32 = FLOAT_FORMATS.F32;
const BF16 = FLOAT_FORMATS.BF16;

describe('recipePass', () => {
  it('measures the residual of an F32 blend of far-apart parents directly, where the Gram formula cancels', async () => {
    // Parents 40 bf16 steps apart, stored as F32; the suspect a float32 blend: its residual
    // is float32 rounding, ~1e-15 of ‖e‖², far below what ‖e‖² − 2βᵀDᵀe + βᵀDᵀDβ resolves.
    const parents = fineTunes(BF16, 32, 64, 2, 40, 9);
    const suspect = new Float64Array(parents[0]!.length);
    replayRecipe(compileRecipe({ weights: [0.3, 0.7], arithmetic: 'float32', normalise: false }, F32), parents, suspect.length, suspect);
    const result = await recipePass(
      { suspect: inMemory(suspect, F32), parents: parents.map((p) => inMemory(p, F32)) },
      { reference: 0, informativeUlps: 4, weights: [0.3, 0.7], recipes: [], format: F32, replayElements: 0, chunkElements: 500 },
    );
    let expected = 0;
    for (let i = 0; i < suspect.length; i++) expected += (suspect[i]! - (0.3 * parents[0]![i]! + 0.7 * parents[1]![i]!)) ** 2;
    expect(result.used).toBe(suspect.length);
    expect(result.rss!).toBeGreaterThan(0);
    expect(result.rss! / expected).toBeCloseTo(1, 6);
  });

  it('replays the recipes over the first replayElements only, and sums element-wise counts over all', async () => {
    const parents = fineTunes(BF16, 32, 64, 2, 8, 10);
    const recipe: MergeRecipe = { weights: [0.4, 0.6], arithmetic: 'torch-in-dtype', normalise: true };
    const suspect = new Float64Array(parents[0]!.length);
    replayRecipe(compileRecipe(recipe, BF16), parents, suspect.length, suspect);
    const result = await recipePass(
      { suspect: inMemory(suspect, BF16), parents: parents.map((p) => inMemory(p, BF16)) },
      { reference: 0, informativeUlps: 4, weights: null, recipes: [recipe, { ...recipe, weights: [0.5, 0.5] }], format: BF16, replayElements: 1000, chunkElements: 300 },
    );
    expect(result.rss).toBeNull();
    expect(result.matches.finite).toBe(1000);
    expect(result.matches.reproduced[0]).toBe(1000);
    expect(result.matches.reproduced[1]!).toBeLessThan(900);
    const whole = emptyElementwiseSums(2, 0);
    const cells = cellsOf(BF16, suspect);
    accumulateElementwise(suspect, cells.above, cells.below, parents, suspect.length, 4, new Float64Array(2), whole);
    expect({ ...result.elementwise, movedGram: [], largeGram: [] }).toEqual({ ...whole, movedGram: [], largeGram: [] });
  });
});
