import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLOAT_FORMATS, roundTo, roundToBf16 } from '../../../src/format/dtype.js';
import { compileRecipe, recipeKey, replayRecipe, sameBits } from '../../../src/engine/recipes/merge-arithmetic.js';
import { blendInBf16Arithmetic, blendInFloat32 } from '../../../scripts/fixture-lib/synthesis.js';
import { blendInFormat, blendRoundedOnce, fineTunes } from '../../fit/synthetic.js';
import { numpyFloat32Sum, slerp, taskMerge } from '../../../scripts/fixture-lib/mergekit-methods.js';
import type { MergeRecipe } from '../../../src/engine/recipes/merge-arithmetic.js';

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

describe('roundTo for BF16 (what the replay rounds with)', () => {
  it('rounds every float32 to bf16 on its float32 bits, ties to even included', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (x) => {
        expect(roundTo(BF16, x)).toBe(roundToBf16(x));
      }),
      { numRuns: 2000 },
    );
    // 1 + 2⁻⁸ is halfway between 1 and 1 + 2⁻⁷: ties go to the even mantissa (1).
    expect(roundTo(BF16, 1 + 2 ** -8)).toBe(1);
    expect(roundTo(BF16, 1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
  });

  it('does not round twice for a float64 value just above a bf16 tie', () => {
    // Rounding to float32 first would land on the tie 1 + 2⁻⁸ and then go down to 1.
    const x = 1 + 2 ** -8 + 2 ** -40;
    expect(roundTo(BF16, x)).toBe(1 + 2 ** -7);
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

function replayed(recipe: MergeRecipe, parents: Float64Array[], format = BF16): Float64Array {
  const out = new Float64Array(parents[0]!.length);
  replayRecipe(compileRecipe(recipe, format), parents, out.length, out);
  return out;
}

function cosineOf(a: Float64Array, b: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('slerp recipes', () => {
  // Fine-tunes 40 steps from their base: about 0.33 rad apart, below mergekit's lerp threshold.
  const far = fineTunes(BF16, 48, 64, 2, 40, 3);
  const slerpOf = (t: number, cosine: number, arithmetic: 'float32' | 'exact-once' = 'float32'): MergeRecipe => ({
    weights: [1 - t, t],
    arithmetic,
    normalise: false,
    method: 'slerp',
    t,
    cosine,
  });

  it("reproduces the fixtures' mergekit slerp (numpy float32 steps) bit for bit from the tensor's exact cosine", () => {
    const cosine = cosineOf(far[0]!, far[1]!);
    expect(cosine).toBeLessThan(0.9995);
    for (const t of [0.2, 0.3, 0.65]) {
      const made = slerp(t, far[0]!, far[1]!);
      const compiled = compileRecipe(slerpOf(t, cosine), BF16);
      // numpy's float32 dot lands on a float32 next to the exact cosine; the coefficients follow within a step or two.
      expect(Math.abs(compiled.effective[0]! - made.coefficients[0]) / made.coefficients[0]).toBeLessThan(3e-7);
      expect(Math.abs(compiled.effective[1]! - made.coefficients[1]) / made.coefficients[1]).toBeLessThan(3e-7);
      expect(countDifferent(replayed(slerpOf(t, cosine), far), made.values)).toBe(0);
    }
  });

  it('has the textbook coefficients sin((1 − t)θ)/sin θ and sin(tθ)/sin θ, summing to more than 1', () => {
    const compiled = compileRecipe(slerpOf(0.3, Math.cos(1), 'exact-once'), BF16);
    expect(compiled.effective[0]).toBeCloseTo(Math.sin(0.7) / Math.sin(1), 14);
    expect(compiled.effective[1]).toBeCloseTo(Math.sin(0.3) / Math.sin(1), 14);
    const float32 = compileRecipe(slerpOf(0.3, Math.cos(1)), BF16);
    expect(float32.effective[0]).toBe(Math.fround(float32.effective[0]!));
    expect(Math.abs(float32.effective[0]! - Math.sin(0.7) / Math.sin(1))).toBeLessThan(3e-7);
    // cos((t − ½)θ)/cos(θ/2) at t = 0.3, θ = 1.
    expect(float32.effective[0]! + float32.effective[1]!).toBeCloseTo(Math.cos(0.2) / Math.cos(0.5), 6);
    expect(float32.normaliser).toBe(1);
  });

  it("falls back to lerp in float32 above mergekit's DOT_THRESHOLD of 0.9995, not at it", () => {
    expect(Array.from(compileRecipe(slerpOf(0.3, 0.99951), BF16).effective)).toEqual([Math.fround(0.7), Math.fround(0.3)]);
    // float32(0.9995) is just below 0.9995: still a SLERP, whose coefficients sum above 1.
    const atThreshold = compileRecipe(slerpOf(0.3, 0.9995), BF16).effective;
    expect(atThreshold[0]! + atThreshold[1]!).toBeGreaterThan(1 + 1e-5);
    const close = fineTunes(BF16, 48, 64, 2, 2, 4);
    const cosine = cosineOf(close[0]!, close[1]!);
    expect(cosine).toBeGreaterThan(0.9995);
    expect(countDifferent(replayed(slerpOf(0.3, cosine), close), slerp(0.3, close[0]!, close[1]!).values)).toBe(0);
    expect(countDifferent(replayed(slerpOf(0.3, cosine), close), replay([0.7, 0.3], 'float32', false, close))).toBe(0);
  });

  it('refuses a slerp recipe without its cosine, or in an arithmetic mergekit does not use for it', () => {
    expect(() => compileRecipe({ weights: [0.5, 0.5], arithmetic: 'float32', normalise: false, method: 'slerp', t: 0.5 }, BF16)).toThrow(/cosine/);
    expect(() => compileRecipe({ ...slerpOf(0.5, 0.5), arithmetic: 'torch-in-dtype' }, BF16)).toThrow(/float32/);
  });
});

describe('numpyFloat32Sum (the fixtures’ model of np.sum on float32)', () => {
  it('sums exactly representable values exactly, in every branch of the pairwise split', () => {
    for (const n of [1, 7, 8, 9, 128, 129, 1000]) {
      const values = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3);
      const exact = Array.from(values).reduce((a, b) => a + b, 0);
      expect(numpyFloat32Sum(values)).toBe(exact);
    }
  });

  it('adds in numpy’s order: eight lanes, combined pairwise, then the leftover', () => {
    // 2²⁴ + 1 + 1 …: a float32 loses each lone 1 but keeps them when summed in a lane first.
    const values = new Float32Array(16).fill(1);
    values[0] = 2 ** 24;
    // Lanes: r0 = 2²⁴ + 1 (lost: 2²⁴), r1…r7 = 2 each; (r0 + r1) = 2²⁴ + 2, … = 2²⁴ + 14.
    expect(numpyFloat32Sum(values)).toBe(2 ** 24 + 14);
  });
});

describe('task-arithmetic recipes', () => {
  const [base, a, b] = fineTunes(BF16, 48, 64, 3, 6, 13) as [Float64Array, Float64Array, Float64Array];
  const parents = [base, a, b];
  const task = (arithmetic: MergeRecipe['arithmetic'], normalise = false, weights = [-0.2, 0.7, 0.5]): MergeRecipe => ({
    weights,
    arithmetic,
    normalise,
    method: 'task-arithmetic',
    base: 0,
  });

  it("reproduces the fixtures' mergekit task_arithmetic in float32 bit for bit", () => {
    const made = taskMerge(base, [a, b], { weights: [0.7, 0.5], sparsification: { kind: 'none' }, signConsensus: false, normalize: false });
    expect(countDifferent(replayed(task('float32'), parents), made)).toBe(0);
    const normalised = taskMerge(base, [a, b], { weights: [0.7, 0.5], sparsification: { kind: 'none' }, signConsensus: false, normalize: true });
    expect(countDifferent(replayed(task('float32', true, [0, 0.7, 0.5]), parents), normalised)).toBe(0);
  });

  it('in the suspect dtype, rounds the task vectors, weights, products, their float32 sum and the final addition to it', () => {
    const round = (x: number): number => roundTo(BF16, x);
    const expected = base.map((r, i) => {
      const sum = Math.fround(round(round(0.7) * round(a[i]! - r)) + round(round(0.5) * round(b[i]! - r)));
      return round(r + round(sum));
    });
    expect(countDifferent(replayed(task('torch-in-dtype'), parents), expected)).toBe(0);
    // Not the float32 replay: the two arithmetics differ on parents a few steps apart.
    expect(countDifferent(replayed(task('torch-in-dtype'), parents), replayed(task('float32'), parents))).toBeGreaterThan(0.02 * base.length);
  });

  it('uses the weights as the arithmetic rounds them, the base taking the rest', () => {
    const bf16 = compileRecipe(task('torch-in-dtype'), BF16);
    // bf16(0.7) = 0.69921875, bf16(0.5) = 0.5; the base's coefficient 1 − 1.19921875.
    expect(Array.from(bf16.effective)).toEqual([1 - 1.19921875, 0.69921875, 0.5]);
    expect(bf16.normaliser).toBe(1);
    const normalised = compileRecipe(task('float32', true, [0, 0.7, 0.5]), BF16);
    const sum = Math.fround(Math.fround(0.7) + Math.fround(0.5));
    expect(normalised.normaliser).toBe(sum);
    expect(Array.from(normalised.effective, (w) => w / normalised.normaliser)).toEqual([0, Math.fround(0.7) / sum, Math.fround(0.5) / sum]);
    // mergekit divides by 1 where the weights sum to less than 1e-8.
    expect(compileRecipe(task('float32', true, [1, 0.5, -0.5]), BF16).normaliser).toBe(1);
  });

  it('equals base + Σλ(p − base), rounded once, in exact arithmetic', () => {
    const p = [Float64Array.of(1, 2), Float64Array.of(3, 2), Float64Array.of(1, 6)];
    // 1 + 0.5·2 + 0.25·0 = 2; 2 + 0.5·0 + 0.25·4 = 3.
    expect(Array.from(replayed(task('exact-once', false, [0.25, 0.5, 0.25]), p))).toEqual([2, 3]);
    expect(() => compileRecipe({ ...task('float32'), base: 3 }, BF16)).toThrow(/base/);
    expect(() => compileRecipe(task('format-steps'), BF16)).toThrow(/task arithmetic/);
  });
});

describe('recipeKey', () => {
  it('names the method, leaves plain weighted sums as they were, and leaves out the per-tensor cosine', () => {
    expect(recipeKey({ weights: [0.4, 0.6], arithmetic: 'float32', normalise: false })).toBe('float32:0.4,0.6');
    expect(recipeKey({ weights: [0.7, 0.3], arithmetic: 'float32', normalise: false, method: 'slerp', t: 0.3, cosine: 0.9 })).toBe('slerp/float32:0.7,0.3');
    expect(recipeKey({ weights: [-0.2, 0.7, 0.5], arithmetic: 'float32', normalise: false, method: 'task-arithmetic', base: 0 })).toBe(
      'task-arithmetic@0/float32:-0.2,0.7,0.5',
    );
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
