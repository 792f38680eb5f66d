import { describe, expect, it } from 'vitest';
import type { RecipeCandidateReport, TensorReport } from '../../../src/report-schema.js';
import { modelReconstruction, modelWeightsForSnapping } from '../../../src/verdict/recipes/model-reconstruction.js';
import { sampleReport } from '../../helpers/sample-report.js';

const template = { ...sampleReport().tensors[1]!, dtype: 'BF16' };
const elementwise = {
  parents: 2, reference: 0, finite: 0, changed: 0, changedKeptBase: 0, allMoved: 0, allMovedKeptBase: 0, large: 0,
  largeKeptBase: 0, conflicts: 0, conflictsAtParent: 0, agreements: 0, agreementsAtParent: 0, moved: 0, movedGram: [], largeGram: [],
};

function candidate(weights: number[], arithmetic: RecipeCandidateReport['arithmetic'], reproduced: number, digits: number | null = 1): RecipeCandidateReport {
  return { weights, arithmetic, normalise: arithmetic === 'torch-in-dtype', origin: digits === null ? 'format-value' : 'decimal', digits, reproduced, reproducedWhereParentsDiffer: reproduced - 100 };
}

function tensor(candidates: RecipeCandidateReport[]): TensorReport {
  return { ...template, recipes: { replayed: 1000, parentsDiffer: 900, candidates, elementwise } };
}

describe('modelReconstruction', () => {
  it('credits each recipe with what it reproduced in every tensor, over all replayed elements', () => {
    const found = modelReconstruction([
      tensor([candidate([0.4, 0.6], 'torch-in-dtype', 1000), candidate([0.4, 0.6], 'float32', 700)]),
      tensor([candidate([0.4, 0.6], 'torch-in-dtype', 990), candidate([0.41, 0.59], 'float32', 995, 2)]),
    ])!;
    expect(found.recipe).toEqual({
      weights: [0.4, 0.6],
      arithmetic: 'torch-in-dtype',
      normalise: true,
      effectiveWeights: [0.400390625, 0.6015625],
      origin: 'decimal',
    });
    expect(found.elements).toBe(2000);
    expect(found.reproduced).toBe(1990);
    expect(found.reproducedWhereParentsDifferShare).toBe(1790 / 1800);
    // 0.41/0.59 won one tensor but was tried in only one: 895 of 1800.
    expect(found.runnersUp.map((r) => [r.recipe.arithmetic, r.recipe.weights, r.share])).toEqual([
      ['float32', [0.41, 0.59], 895 / 1800],
      ['float32', [0.4, 0.6], 600 / 1800],
    ]);
  });

  it('prefers fewer typed digits, then the simpler arithmetic, among equals, and lists them as consistent', () => {
    const found = modelReconstruction([
      tensor([candidate([0.4, 0.6], 'float32', 1000), candidate([0.4, 0.6], 'exact-once', 1000), candidate([0.3984375, 0.6015625], 'exact-once', 1000, null)]),
    ])!;
    expect(found.recipe.arithmetic).toBe('exact-once');
    expect(found.recipe.weights).toEqual([0.4, 0.6]);
    expect(found.consistent.map((r) => [r.arithmetic, r.weights])).toEqual([
      ['float32', [0.4, 0.6]],
      ['exact-once', [0.3984375, 0.6015625]],
    ]);
  });

  it('is null when no tensor replayed a recipe', () => {
    expect(modelReconstruction([template, tensor([])])).toBeNull();
  });

  it('counts a recipe once per tensor even when a tensor lists it twice', () => {
    const twice = candidate([0.4, 0.6], 'exact-once', 1000);
    const found = modelReconstruction([tensor([twice, { ...twice, origin: 'fitted', digits: null }])])!;
    expect(found.reproduced).toBe(1000);
    expect(found.reproducedShare).toBe(1);
  });
});

describe('modelReconstruction of SLERP and task arithmetic', () => {
  const slerpAt = (t: number, cosine: number, reproduced: number): RecipeCandidateReport => ({
    ...candidate([Math.round((1 - t) * 10) / 10, t], 'float32', reproduced),
    method: 'slerp',
    t,
    cosine,
  });

  it('tallies one SLERP across tensors whatever their angles, apart from the linear blend of the same weights', () => {
    const found = modelReconstruction([
      tensor([slerpAt(0.3, 0.9, 1000), candidate([0.7, 0.3], 'float32', 400)]),
      tensor([slerpAt(0.3, 0.8, 1000), candidate([0.7, 0.3], 'float32', 300)]),
    ])!;
    expect(found.recipe).toEqual({ weights: [0.7, 0.3], arithmetic: 'float32', normalise: false, effectiveWeights: [0.7, 0.3], origin: 'decimal', method: 'slerp', t: 0.3 });
    expect(found.reproducedWhereParentsDifferShare).toBe(1);
    expect(found.runnersUp.map((r) => [r.recipe.method, r.share])).toEqual([[undefined, 500 / 1800]]);
  });

  it("states task arithmetic's base and the λ as the arithmetic used them", () => {
    const task: RecipeCandidateReport = { ...candidate([-0.2, 0.7, 0.5], 'torch-in-dtype', 1000), normalise: false, method: 'task-arithmetic', base: 0 };
    const found = modelReconstruction([tensor([task])])!;
    expect(found.recipe).toMatchObject({ method: 'task-arithmetic', base: 0, effectiveWeights: [1 - 1.19921875, 0.69921875, 0.5] });
  });
});

describe('modelWeightsForSnapping', () => {
  it('is the element-weighted mean over identifiable tensors with every weight', () => {
    const identifiable = { identifiable: true, rank: 2, conditionNumber: 1, reason: null };
    const weights = modelWeightsForSnapping([
      { elements: 300, weights: [0.5, 0.5], identifiability: identifiable },
      { elements: 100, weights: [0.1, 0.9], identifiability: identifiable },
      { elements: 1000, weights: [0.9, 0.1], identifiability: { ...identifiable, identifiable: false, reason: 'parents-identical' } },
      { elements: 1000, weights: [null, 0.1], identifiability: identifiable },
    ]);
    expect(weights![0]).toBeCloseTo(0.4, 15);
    expect(weights![1]).toBeCloseTo(0.6, 15);
    expect(modelWeightsForSnapping([])).toBeNull();
  });
});
