import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLOAT_FORMATS, roundTo } from '../../../src/format/dtype.js';
import { compileRecipe, replayRecipe, roundToFormat, sameBits } from '../../../src/engine/recipes/merge-arithmetic.js';
import { blendInBf16Arithmetic, blendInFloat32 } from '../../../scripts/fixture-lib/synthesis.js';
import { blendInFormat, blendRoundedOnce, fineTunes } from '../../fit/synthetic.js';

const BF16 = FLOAT_FORMATS.BF16;
const F16 = FLOAT_FORMATS.F16;
const spec = { name: 't', shape: [32, 64], role: 'matrix' as const };

function replay(weights: number[], arithmetic: Parameters<typeof compileRecipe>[0]['arithmetic'], normalise: boolean, parents: Float64Array[], format = BF16): Float64Array {
  const out = new Float64Array(parents[0]!.length);
  replayRecipe(compileRecipe({ weights, arithmetic, normalise }, format), parents, out.length, out);
  return out;
}

function countDifferent(a: Float64Array, b: Float64Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!sameBits(a[i]!, b[i]!)) n++;
  return n;
}

describe('roundToFormat', () => {
  it('rounds every float32 to bf16 exactly as roundTo does, ties to even included', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (x) => {
        expect(roundToFormat(BF16, x)).toBe(roundTo(BF16, x));
      }),
      { numRuns: 2000 },
    );
    // 1 + 2⁻⁸ is halfway between 1 and 1 + 2⁻⁷: ties go to the even mantissa (1).
    expect(roundToFormat(BF16, 1 + 2 ** -8)).toBe(1);
    expect(roundToFormat(BF16, 1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
  });

  it('does not round twice for a float64 value just above a bf16 tie', () => {
    // Rounding to float32 first would land on the tie 1 + 2⁻⁸ and then go down to 1.
    const x = 1 + 2 ** -8 + 2 ** -40;
    expect(roundToFormat(BF16, x)).toBe(1 + 2 ** -7);
  });
});

describe('replayRecipe', () => {
  const parents = fineTunes(BF16, 32, 64, 2, 3, 7);
  const weights = new Map([[spec.name, parents[0]!]]);
  const weightsB = new Map([[spec.name, parents[1]!]]);

  it("reproduces the fixtures' float32 merge bit for bit", () => {
    const made = blendInFloat32([weights, weightsB], [0.4, 0.6], [spec]).get(spec.name)!;
    expect(countDifferent(replay([0.4, 0.6], 'float32', false, parents), made)).toBe(0);
  });

  it("reproduces the fixtures' mergekit bf16 linear merge bit for bit, and shows its bf16 weights", () => {
    const made = blendInBf16Arithmetic([weights, weightsB], [0.35, 0.65], [spec]).weights.get(spec.name)!;
    expect(countDifferent(replay([0.35, 0.65], 'torch-in-dtype', true, parents), made)).toBe(0);
    const compiled = compileRecipe({ weights: [0.4, 0.6], arithmetic: 'torch-in-dtype', normalise: true }, BF16);
    expect(Array.from(compiled.effective)).toEqual([0.400390625, 0.6015625]);
    // 1.001953125 rounds to 1 in bf16, so mergekit's division changes nothing.
    expect(compiled.normaliser).toBe(1);
  });

  it('reproduces rounding once and step-by-step format arithmetic (the test helpers) in bf16 and f16', () => {
    for (const format of [BF16, F16]) {
      const p = fineTunes(format, 16, 16, 3, 5, 11);
      expect(countDifferent(replay([0.5, 0.3, 0.2], 'exact-once', false, p, format), blendRoundedOnce(format, p, [0.5, 0.3, 0.2]))).toBe(0);
      expect(countDifferent(replay([0.5, 0.3, 0.2], 'format-steps', false, p, format), blendInFormat(format, p, [0.5, 0.3, 0.2]))).toBe(0);
    }
  });

  it('tells the arithmetics apart on parents a few steps apart', () => {
    const f32 = replay([0.4, 0.6], 'float32', false, parents);
    const bf16 = replay([0.4, 0.6], 'torch-in-dtype', true, parents);
    const differing = countDifferent(f32, bf16);
    // Different arithmetic changes a substantial share of elements, not a handful.
    expect(differing).toBeGreaterThan(0.1 * f32.length);
  });

  it('divides by a weight sum that is not 1 when normalising', () => {
    const p = [Float64Array.of(1, 2), Float64Array.of(3, 4)];
    // (1·1 + 1·3)/2 = 2, (1·2 + 1·4)/2 = 3 in every arithmetic.
    for (const arithmetic of ['exact-once', 'float32', 'torch-in-dtype'] as const) {
      expect(Array.from(replay([1, 1], arithmetic, true, p))).toEqual([2, 3]);
    }
    expect(Array.from(replay([1, 1], 'exact-once', false, p))).toEqual([4, 6]);
  });
});

describe('sameBits', () => {
  it('separates +0 from −0 and equal values otherwise', () => {
    expect(sameBits(0, -0)).toBe(false);
    expect(sameBits(-0, -0)).toBe(true);
    expect(sameBits(0.5, 0.5)).toBe(true);
    expect(sameBits(NaN, NaN)).toBe(false);
  });
});
