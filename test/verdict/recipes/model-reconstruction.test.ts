import { describe, expect, it } from 'vitest';
import type { RecipeCandidateReport, TensorReport } from '../../../src/report-schema.js';
import { modelReconstruction } from '../../../src/verdict/recipes/model-reconstruction.js';
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
