import { describe, expect, it } from 'vitest';
import { compileRecipe, replayRecipe, sameBits } from '../../../src/engine/recipes/merge-arithmetic.js';
import { refineSlerpCosines } from '../../../src/fit/recipes/slerp-refine.js';
import type { RecipeCandidate } from '../../../src/fit/recipes/snap-candidates.js';
import { FLOAT_FORMATS } from '../../../src/format/dtype.js';
import { fineTunes } from '../synthetic.js';

const BF16 = FLOAT_FORMATS.BF16;

describe('refineSlerpCosines', () => {
  // Parents 40 steps apart: an angle of a few hundredths of a radian, as between fine-tunes.
  const [a, b] = fineTunes(BF16, 32, 64, 2, 40, 21) as [Float64Array, Float64Array];
  let dot = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  const cosine = dot / Math.sqrt(aa * bb);
  const slerp = (cos: number): RecipeCandidate => ({ weights: [0.7, 0.3], arithmetic: 'float32', normalise: false, method: 'slerp', t: 0.3, cosine: cos, origin: 'decimal', digits: 1 });
  const suspect = new Float64Array(a.length);
  replayRecipe(compileRecipe(slerp(cosine), BF16), [a, b], a.length, suspect);
  const share = (candidate: RecipeCandidate): number => {
    const out = new Float64Array(a.length);
    replayRecipe(compileRecipe(candidate, BF16), [a, b], a.length, out);
    let hit = 0, differ = 0;
    for (let i = 0; i < a.length; i++) {
      if (sameBits(a[i]!, b[i]!)) continue;
      differ++;
      if (sameBits(out[i]!, suspect[i]!)) hit++;
    }
    return hit / differ;
  };

  it('finds an angle that recomputes every element from an estimate 6% off, which does not', () => {
    const estimate = slerp(Math.cos(Math.acos(cosine) * 1.06));
    expect(share(estimate)).toBeLessThan(0.99);
    const [refined] = refineSlerpCosines([estimate], suspect, [a, b], 1024, BF16);
    expect(share(refined!)).toBe(1);
    expect(Math.abs(Math.acos(refined!.cosine!) / Math.acos(cosine) - 1)).toBeLessThan(0.01);
  });

  it('keeps the estimate when it already recomputes everything, and leaves other recipes alone', () => {
    const linear: RecipeCandidate = { weights: [0.7, 0.3], arithmetic: 'float32', normalise: false, origin: 'decimal', digits: 1 };
    const [kept, other] = refineSlerpCosines([slerp(cosine), linear], suspect, [a, b], a.length, BF16);
    expect(kept!.cosine).toBe(cosine);
    expect(other).toBe(linear);
  });
});
