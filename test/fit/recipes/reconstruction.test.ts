import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLOAT_FORMATS } from '../../../src/format/dtype.js';
import { fitTensor } from '../../../src/fit/tensor-fit.js';
import {
  addExactMatches,
  countExactMatches,
  emptyExactMatches,
  ExactMatchScratch,
} from '../../../src/engine/recipes/exact-match-count.js';
import { compileRecipe, recipeKey, replayRecipe } from '../../../src/engine/recipes/merge-arithmetic.js';
import { chooseReconstruction } from '../../../src/fit/recipes/reconstruction.js';
import { snapCandidates, type RecipeCandidate } from '../../../src/fit/recipes/snap-candidates.js';
import { DEFAULT_THRESHOLDS } from '../../../src/verdict/thresholds.js';
import { referenceMoments } from '../../helpers/reference-moments.js';
import { fineTunes, fineTuneDelta, random } from '../synthetic.js';

const BF16 = FLOAT_FORMATS.BF16;

/** The whole pure path: fit, snap, replay every candidate over the tensor in two chunks, choose. */
function reconstruct(suspect: Float64Array, parents: Float64Array[]) {
  const fit = fitTensor(referenceMoments(suspect, parents, BF16, 0, DEFAULT_THRESHOLDS.informativeUlps));
  const candidates = snapCandidates(fit.weights, fit.weightsStdErr, BF16);
  const compiled = candidates.map((c) => compileRecipe(c, BF16));
  const counts = emptyExactMatches(candidates.length);
  const half = suspect.length >> 1;
  const scratch = new ExactMatchScratch(suspect.length);
  for (const [start, end] of [[0, half], [half, suspect.length]] as const) {
    const part = emptyExactMatches(candidates.length);
    countExactMatches(suspect.subarray(start, end), parents.map((p) => p.subarray(start, end)), end - start, compiled, scratch, part);
    addExactMatches(counts, part);
  }
  return { fit, candidates, reconstruction: chooseReconstruction(compiled, candidates, counts)! };
}

function made(parents: Float64Array[], weights: number[], arithmetic: RecipeCandidate['arithmetic'], normalise: boolean): Float64Array {
  const out = new Float64Array(parents[0]!.length);
  replayRecipe(compileRecipe({ weights, arithmetic, normalise }, BF16), parents, out.length, out);
  return out;
}

describe('snapCandidates', () => {
  it('offers the typed decimals and the bf16 neighbours of a weight fitted on a bf16 merge', () => {
    const candidates = snapCandidates([0.39844, 0.60156], [0.0002, 0.0002], BF16);
    const keys = new Set(candidates.map(recipeKey));
    expect(keys.has('torch-in-dtype/normalised:0.4,0.6')).toBe(true);
    expect(keys.has('float32:0.4,0.6')).toBe(true);
    expect(keys.has('float32:0.3984375,0.6015625')).toBe(true);
    expect(candidates[0]!.origin).toBe('fitted');
  });

  it('offers a fit that is already a short decimal once, as that decimal', () => {
    const candidates = snapCandidates([0.4, 0.6], [0.0002, 0.0002], BF16);
    const keys = candidates.map(recipeKey);
    expect(keys.filter((k) => k === 'exact-once:0.4,0.6')).toHaveLength(1);
    expect(candidates[0]).toMatchObject({ weights: [0.4, 0.6], origin: 'decimal', digits: 1 });
  });

  it('offers nothing when a weight is not identifiable', () => {
    expect(snapCandidates([null, 0.5], [null, 0.01], BF16)).toEqual([]);
  });

  it('keeps short decimals exact (1 − 0.7 is 0.3, not 0.30000000000000004)', () => {
    const candidates = snapCandidates([0.3001, 0.6999], [0.001, 0.001], BF16);
    expect(candidates.some((c) => c.weights[0] === 0.3 && c.weights[1] === 0.7 && c.digits === 1)).toBe(true);
  });
});

describe('exact reconstruction', () => {
  const parents = fineTunes(BF16, 48, 64, 3, 4, 21);
  const two = parents.slice(0, 2);

  it('proves a float32 0.4/0.6 merge bit for bit', () => {
    const { reconstruction } = reconstruct(made(two, [0.4, 0.6], 'float32', false), two);
    // Float64 and float32 arithmetic round to the same bf16 values here: both are consistent.
    expect(recipeKey(reconstruction.recipe)).toBe('exact-once:0.4,0.6');
    expect(reconstruction.consistent.map(recipeKey)).toContain('float32:0.4,0.6');
    expect(reconstruction.reproducedShare).toBe(1);
    expect(reconstruction.reproducedWhereParentsDifferShare).toBe(1);
  });

  it('proves a mergekit bf16 merge under its own arithmetic, with the bf16 weights it used', () => {
    const { reconstruction } = reconstruct(made(two, [0.35, 0.65], 'torch-in-dtype', true), two);
    expect(recipeKey(reconstruction.recipe)).toBe('torch-in-dtype/normalised:0.35,0.65');
    expect(reconstruction.reproducedShare).toBe(1);
    // 0.35 → 179·2⁻⁹ = 0.349609375, 0.65 → 83·2⁻⁷ = 0.6484375 in bf16; their bf16 sum 0.998046875 rounds to 1.
    expect(reconstruction.effectiveWeights).toEqual([0.349609375, 0.6484375]);
    // With two parents and a normaliser of 1, accumulating in float32 and rounding once is
    // the same as rounding the one addition: step-by-step bf16 is equally consistent.
    expect(reconstruction.consistent.map(recipeKey)).toEqual(['torch-in-dtype/normalised:0.35,0.65', 'format-steps:0.35,0.65']);
  });

  it('proves a three-parent float32 merge', () => {
    const { reconstruction } = reconstruct(made(parents, [0.5, 0.3, 0.2], 'float32', false), parents);
    expect(reconstruction.recipe.weights).toEqual([0.5, 0.3, 0.2]);
    expect(reconstruction.reproducedShare).toBe(1);
  });

  it('reproduces little of a merge that was trained afterwards', () => {
    const next = random(5);
    const blend = made(two, [0.4, 0.6], 'float32', false);
    const delta = fineTuneDelta(48, 64, 2e-4, next);
    const trained = blend.map((x, i) => x + delta[i]!).map((x) => made([Float64Array.of(x)], [1], 'exact-once', false)[0]!);
    const { reconstruction } = reconstruct(trained, two);
    expect(reconstruction.reproducedWhereParentsDifferShare!).toBeLessThan(0.5);
  });

  it('recovers any typed two-decimal blend in any arithmetic, bit for bit (property)', () => {
    const pool = fineTunes(BF16, 24, 64, 2, 6, 33);
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 95 }),
        fc.constantFrom('exact-once', 'float32', 'torch-in-dtype', 'format-steps' as const),
        (hundredths, arithmetic) => {
          const w = hundredths / 100;
          const weights = [Math.round((1 - w) * 100) / 100, w];
          const suspect = made(pool, weights, arithmetic, arithmetic === 'torch-in-dtype');
          const { reconstruction } = reconstruct(suspect, pool);
          expect(reconstruction.reproducedShare).toBe(1);
          const typed = reconstruction.consistent.filter((c) => c.origin === 'decimal' && c.arithmetic === arithmetic);
          expect(typed.map((c) => c.weights)).toContainEqual(weights);
        },
      ),
      { numRuns: 25 },
    );
  });
});

