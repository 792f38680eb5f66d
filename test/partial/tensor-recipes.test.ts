import { describe, expect, it } from 'vitest';
import { FLOAT_FORMATS } from '../../src/format/dtype.js';
import { compileRecipe, replayRecipe } from '../../src/engine/recipes/merge-arithmetic.js';
import { fitTensor } from '../../src/fit/tensor-fit.js';
import { measureRecipes, replayBlocks } from '../../src/partial/tensor-recipes.js';
import { referenceMoments } from '../helpers/reference-moments.js';
import { fineTunes } from '../fit/synthetic.js';
import { inMemoryTensor } from '../engine/recipes/cells.js';
import { InProcessEngine } from '../../src/engine/scan-engine.js';

const engine = new InProcessEngine({ parents: 2, reference: 0, informativeUlps: 4, chunkElements: 700 });

const BF16 = FLOAT_FORMATS.BF16;
const F32 = FLOAT_FORMATS.F32;

describe('measureRecipes', () => {
  it('finds the recipe of a bf16 merge and keeps the Gram residual, accurate on a 16-bit grid', async () => {
    const parents = fineTunes(BF16, 32, 64, 2, 6, 41);
    const suspect = new Float64Array(parents[0]!.length);
    replayRecipe(compileRecipe({ weights: [0.35, 0.65], arithmetic: 'torch-in-dtype', normalise: true }, BF16), parents, suspect.length, suspect);
    const moments = referenceMoments(suspect, parents, BF16, 0, 4);
    const fit = fitTensor(moments);
    const { fit: measured, recipes } = await measureRecipes(
      engine,
      [{ name: 't', suspect: inMemoryTensor(suspect, BF16), parents: parents.map((p) => inMemoryTensor(p, BF16)) }],
      moments,
      fit,
      { reference: 0, informativeUlps: 4, replayFormat: BF16, directResidual: false },
    );
    expect(measured.rssMethod).toBe('gram');
    expect(measured.noiseRatio).toBe(fit.noiseRatio);
    // Asked for, the direct residual agrees closely with the Gram formula on a bf16 suspect.
    const direct = await measureRecipes(
      engine,
      [{ name: 't', suspect: inMemoryTensor(suspect, BF16), parents: parents.map((p) => inMemoryTensor(p, BF16)) }],
      moments,
      fit,
      { reference: 0, informativeUlps: 4, replayFormat: BF16, directResidual: true },
    );
    expect(direct.fit.rssMethod).toBe('direct');
    expect(direct.fit.noiseRatio).toBeCloseTo(fit.noiseRatio, 6);
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
      engine,
      [{ name: 't', suspect: inMemoryTensor(suspect, F32), parents: parents.map((p) => inMemoryTensor(p, BF16)) }],
      moments,
      { ...fit, weights: [0.3, 0.7] },
      { reference: 0, informativeUlps: 4, replayFormat: F32, directResidual: true },
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
      engine,
      [{ name: 't', suspect: inMemoryTensor(parents[1]!, BF16), parents: parents.map((p) => inMemoryTensor(p, BF16)) }],
      moments,
      fitTensor(moments),
      { reference: 0, informativeUlps: 4, replayFormat: null, directResidual: true },
    );
    expect(recipes!.candidates).toEqual([]);
    expect(fit.rssMethod).toBe('direct');
  });
});

describe('replayBlocks', () => {
  it('spreads 8 blocks of 1,024 elements evenly over a tensor', () => {
    const blocks = replayBlocks([100_000]);
    expect(blocks.map((b) => b.from)).toEqual([5738, 18238, 30738, 43238, 55738, 68238, 80738, 93238]);
    expect(blocks.every((b) => b.unit === 0 && b.to - b.from === 1024)).toBe(true);
  });

  it('lays a group\'s units end to end and cuts a block at its unit\'s end', () => {
    // Centres at (b + ½)·9000/8 = 562.5, 1687.5, 2812.5, …; a block starts 512 before.
    expect(replayBlocks([3000, 3000, 3000]).slice(0, 4)).toEqual([
      { unit: 0, from: 50, to: 1074 },
      { unit: 0, from: 1175, to: 2199 },
      { unit: 0, from: 2300, to: 3000 },
      { unit: 1, from: 425, to: 1449 },
    ]);
  });

  it('replays every element of a group no larger than the blocks together', () => {
    expect(replayBlocks([5000, 0, 3000])).toEqual([
      { unit: 0, from: 0, to: 5000 },
      { unit: 2, from: 0, to: 3000 },
    ]);
  });
});
