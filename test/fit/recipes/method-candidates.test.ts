import { describe, expect, it } from 'vitest';
import { FLOAT_FORMATS } from '../../../src/format/dtype.js';
import { recipeKey } from '../../../src/engine/recipes/merge-arithmetic.js';
import { readSlerp } from '../../../src/fit/recipes/slerp-reading.js';
import { MAX_CANDIDATES, methodFields, snapCandidates } from '../../../src/fit/recipes/snap-candidates.js';
import { slerp } from '../../../scripts/fixture-lib/mergekit-methods.js';
import { referenceMoments } from '../../helpers/reference-moments.js';
import { fineTunes } from '../synthetic.js';

const BF16 = FLOAT_FORMATS.BF16;

describe('snapCandidates: SLERP', () => {
  const far = fineTunes(BF16, 48, 64, 2, 40, 3);

  it('proposes mergekit slerp at the decimal t the reading gives, with the tensor cosine, when the sum says SLERP', () => {
    const moments = referenceMoments(slerp(0.3, far[0]!, far[1]!).values, far, BF16, 0, 4);
    const reading = readSlerp(moments, BF16)!;
    expect(reading.consistent).toEqual(['slerp']);
    const candidates = snapCandidates([0.7, 0.3], [0.001, 0.001], BF16, { slerp: reading });
    const slerps = candidates.filter((c) => c.method === 'slerp');
    expect(slerps.map((c) => c.t)).toContain(0.3);
    const at = slerps.find((c) => c.t === 0.3)!;
    expect(at).toMatchObject({ weights: [0.7, 0.3], arithmetic: 'float32', normalise: false, digits: 1, origin: 'decimal' });
    expect(at.cosine).toBeCloseTo(Math.cos(reading.angle), 15);
    expect(methodFields(at)).toEqual({ method: 'slerp', t: 0.3, cosine: at.cosine });
  });

  it('proposes no slerp when the reading rules it out, nor without two parents', () => {
    const reading = readSlerp(referenceMoments(slerp(0.3, far[0]!, far[1]!).values, far, BF16, 0, 4), BF16)!;
    const linear = { ...reading, consistent: ['linear' as const] };
    expect(snapCandidates([0.7, 0.3], [0.001, 0.001], BF16, { slerp: linear }).some((c) => c.method === 'slerp')).toBe(false);
    expect(snapCandidates([0.5, 0.3, 0.2], [0.001, 0.001, 0.001], BF16, { slerp: reading }).some((c) => c.method === 'slerp')).toBe(false);
  });
});

describe('snapCandidates: task arithmetic', () => {
  it('proposes base + Σλ(p − base) in float32 and in bf16 when --base is given and the base weight is not 0', () => {
    const candidates = snapCandidates([-0.2004, 0.7003, 0.5001], [0.0005, 0.0005, 0.0005], BF16, { base: 0 });
    const keys = candidates.map(recipeKey);
    expect(keys).toContain('task-arithmetic@0/float32:-0.2,0.7,0.5');
    expect(keys).toContain('task-arithmetic@0/torch-in-dtype:-0.2,0.7,0.5');
    const at = candidates.find((c) => recipeKey(c) === 'task-arithmetic@0/float32:-0.2,0.7,0.5')!;
    expect(at).toMatchObject({ method: 'task-arithmetic', base: 0, digits: 1, origin: 'decimal' });
    expect(candidates.length).toBeLessThanOrEqual(MAX_CANDIDATES);
  });

  it('proposes none without --base, or when the base weighs nothing (a plain blend of the task parents)', () => {
    expect(snapCandidates([-0.2, 0.7, 0.5], [0.0005, 0.0005, 0.0005], BF16).some((c) => c.method !== undefined)).toBe(false);
    expect(snapCandidates([0.003, 0.4, 0.597], [0.0005, 0.0005, 0.0005], BF16, { base: 0 }).some((c) => c.method !== undefined)).toBe(false);
  });
});

describe("snapCandidates: the model's weights", () => {
  it("puts the model's recipe right after the raw fit, though the tensor's own fit is too far for its window", () => {
    const candidates = snapCandidates([0.3713, 0.6287], [0.001, 0.001], BF16, { modelWeights: [0.4003, 0.5997] });
    expect(candidates[0]!.origin).toBe('fitted');
    expect(candidates.slice(1, 5).map(recipeKey)).toEqual([
      'exact-once:0.4,0.6',
      'float32:0.4,0.6',
      'torch-in-dtype/normalised:0.4,0.6',
      'format-steps:0.4,0.6',
    ]);
    // Without them, 0.4 is 0.03 from the fit: outside the window.
    expect(snapCandidates([0.3713, 0.6287], [0.001, 0.001], BF16).map(recipeKey)).not.toContain('float32:0.4,0.6');
  });

  it("replays the model's recipe on a tensor whose own weights are not identifiable", () => {
    const candidates = snapCandidates([null, null], [null, null], BF16, { modelWeights: [0.4, 0.6] });
    expect(candidates.map(recipeKey)).toEqual(['exact-once:0.4,0.6', 'float32:0.4,0.6', 'torch-in-dtype/normalised:0.4,0.6', 'format-steps:0.4,0.6']);
    expect(snapCandidates([null, null], [null, null], BF16)).toEqual([]);
  });

  it('keeps at most MAX_CANDIDATES, cutting format values before decimals', () => {
    // A noisy fit (window 0.05), a base and the model's weights: more vectors × arithmetics than 30.
    const candidates = snapCandidates([-0.1234, 0.6543, 0.4691], [0.01, 0.01, 0.01], BF16, { base: 0, modelWeights: [-0.1, 0.6, 0.5] });
    expect(candidates).toHaveLength(MAX_CANDIDATES);
    expect(new Set(candidates.map(recipeKey)).size).toBe(MAX_CANDIDATES);
    expect(candidates.slice(1, 7).map(recipeKey)).toEqual([
      'exact-once:-0.1,0.6,0.5',
      'float32:-0.1,0.6,0.5',
      'torch-in-dtype/normalised:-0.1,0.6,0.5',
      'format-steps:-0.1,0.6,0.5',
      'task-arithmetic@0/float32:-0.1,0.6,0.5',
      'task-arithmetic@0/torch-in-dtype:-0.1,0.6,0.5',
    ]);
    expect(candidates.some((c) => c.origin === 'format-value')).toBe(false);
  });
});
