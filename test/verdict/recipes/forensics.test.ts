import { describe, expect, it } from 'vitest';
import { cellsOf } from '../../engine/recipes/cells.js';
import { FLOAT_FORMATS } from '../../../src/format/dtype.js';
import { accumulateElementwise, emptyElementwiseSums } from '../../../src/engine/recipes/elementwise-sums.js';
import { countExactMatches, emptyExactMatches, ExactMatchScratch } from '../../../src/engine/recipes/exact-match-count.js';
import { compileRecipe, replayRecipe } from '../../../src/engine/recipes/merge-arithmetic.js';
import { chooseReconstruction } from '../../../src/fit/recipes/reconstruction.js';
import { readSlerp } from '../../../src/fit/recipes/slerp-reading.js';
import { snapCandidates } from '../../../src/fit/recipes/snap-candidates.js';
import type { TensorReport } from '../../../src/report-schema.js';
import { forensicsReport } from '../../../src/verdict/recipes/forensics.js';
import { momentsOfSums, sumsOfMoments } from '../../../src/fit/recipes/tensor-sums.js';
import { blendInFloat32 } from '../../fit/synthetic.js';
import { slerp } from '../../../scripts/fixture-lib/mergekit-methods.js';
import { taskMerge } from '../../../scripts/fixture-lib/mergekit-methods.js';
import { referenceMoments } from '../../helpers/reference-moments.js';
import { sampleReport } from '../../helpers/sample-report.js';
import { fineTunes } from '../../fit/synthetic.js';

const BF16 = FLOAT_FORMATS.BF16;
const report = sampleReport();

describe('forensicsReport', () => {
  it('reads task arithmetic only when --base named the reference', () => {
    const verdict = { weights: [-0.2, 0.7, 0.5] };
    const inputs = { tensors: [] as TensorReport[], verdict, parents: 3, reference: 0 };
    expect(forensicsReport({ ...inputs, baseGiven: false }).taskArithmetic).toBeNull();
    const task = forensicsReport({ ...inputs, baseGiven: true }).taskArithmetic!;
    expect(task.scales).toEqual([null, 0.7, 0.5]);
    expect(task.scaleSum).toBeCloseTo(1.2, 12);
    expect(task.baseWeight).toBeCloseTo(-0.2, 12);
  });

  it('profiles the non-reference parents over layers, leaving out the reference', () => {
    const found = forensicsReport({ tensors: report.tensors, verdict: report.verdict, parents: 2, reference: 0, baseGiven: false });
    expect(found.layerProfiles.every((p) => p.parent === 1)).toBe(true);
    const all = found.layerProfiles.find((p) => p.group === 'all')!;
    expect(all.points.map((p) => p.layer)).toEqual([0, 1, 2]);
  });

  it('carries the reconstruction, the interpolation reading and the element-wise method', () => {
    const parents = fineTunes(BF16, 32, 64, 3, 8, 17);
    const two = parents.slice(0, 2);
    const suspect = new Float64Array(two[0]!.length);
    replayRecipe(compileRecipe({ weights: [0.4, 0.6], arithmetic: 'torch-in-dtype', normalise: true }, BF16), two, suspect.length, suspect);
    const candidates = snapCandidates([0.3985, 0.6015], [0.0003, 0.0003], BF16);
    const compiled = candidates.map((c) => compileRecipe(c, BF16));
    const counts = emptyExactMatches(candidates.length);
    countExactMatches(suspect, two, suspect.length, compiled, new ExactMatchScratch(suspect.length), counts);
    const reconstruction = chooseReconstruction(compiled, candidates, counts);

    const ties = taskMerge(parents[0]!, [parents[1]!, parents[2]!], {
      weights: [0.5, 0.5],
      sparsification: { kind: 'magnitude', density: 0.5 },
      signConsensus: true,
      normalize: true,
    });
    const sums = emptyElementwiseSums(3, 0);
    const cells = cellsOf(BF16, ties);
    accumulateElementwise(ties, cells.above, cells.below, parents, ties.length, 4, new Float64Array(3), sums);

    const tensor = { ...report.tensors[1]!, dtype: 'BF16', elements: suspect.length };
    const found = forensicsReport({
      tensors: [tensor],
      verdict: { weights: [0.4, 0.6] },
      parents: 2,
      reference: 0,
      baseGiven: false,
      slerp: [readSlerp(referenceMoments(suspect, two, BF16, 0, 4), BF16)],
      elementwise: sums,
      reconstruction,
    });
    expect(found.reconstruction!.recipe).toEqual({
      weights: [0.4, 0.6],
      arithmetic: 'torch-in-dtype',
      normalise: true,
      effectiveWeights: [0.400390625, 0.6015625],
      origin: 'decimal',
    });
    expect(found.reconstruction!.reproducedShare).toBe(1);
    expect(found.interpolation!.consistent).toEqual(['linear-format-weights']);
    expect(found.elementwise!.method).toBe('ties');
    expect(found.elementwise!.scales[0]).toBeNull();
    expect(found.parentDiscovery).toBeNull();
  });

  it('reads SLERP and discovers parents from the sums each tensor report carries', () => {
    const tensorWith = (suspect: Float64Array, parents: Float64Array[], name: string): TensorReport => ({
      ...report.tensors[1]!,
      name,
      dtype: 'BF16',
      elements: suspect.length,
      sums: sumsOfMoments(referenceMoments(suspect, parents, BF16, 0, 4)),
    });
    const far = fineTunes(BF16, 32, 64, 2, 40, 23);
    const slerped = [tensorWith(slerp(0.3, far[0]!, far[1]!).values, far, 't')];
    const interpolation = forensicsReport({ tensors: slerped, verdict: { weights: [0.7, 0.3] }, parents: 2, reference: 0, baseGiven: false }).interpolation!;
    expect(interpolation.consistent).toEqual(['slerp']);
    expect(interpolation.t).toBeCloseTo(0.3, 2);

    const candidates = fineTunes(BF16, 32, 64, 4, 6, 29);
    const blended = [tensorWith(blendInFloat32(BF16, [candidates[1]!, candidates[2]!], [0.3, 0.7]), candidates, 'u')];
    const discovery = forensicsReport({ tensors: blended, verdict: { weights: null }, parents: 4, reference: 0, baseGiven: false }).parentDiscovery!;
    expect(discovery.explaining).toEqual([1, 2]);
    expect(discovery.weights[2]!).toBeCloseTo(0.7, 1);
  });

  it('rebuilds moments from sums only when their size fits the parents', () => {
    const parents = fineTunes(BF16, 8, 8, 2, 4, 31);
    const sums = sumsOfMoments(referenceMoments(parents[0]!, parents, BF16, 0, 4));
    expect(momentsOfSums(sums, 2, 0)!.gram[0]).toBe(sums.gram[0]);
    expect(momentsOfSums(sums, 3, 0)).toBeNull();
  });
});

