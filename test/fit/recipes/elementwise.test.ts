import { describe, expect, it } from 'vitest';
import { cellsOf } from '../../engine/recipes/cells.js';
import { FLOAT_FORMATS, roundTo } from '../../../src/format/dtype.js';
import { accumulateElementwise, addElementwiseSums, emptyElementwiseSums } from '../../../src/engine/recipes/elementwise-sums.js';
import { classifyElementwise, readElementwise } from '../../../src/fit/recipes/elementwise-reading.js';
import { taskMerge, type TaskMergeRecipe } from '../../../scripts/fixture-lib/mergekit-methods.js';
import { randomFor } from '../../../scripts/fixture-lib/random.js';
import { blendInFloat32, fineTuneDelta, fineTunes, random } from '../synthetic.js';

const BF16 = FLOAT_FORMATS.BF16;

type Recipe = (base: Float64Array, a: Float64Array, b: Float64Array, label: string) => Float64Array;
const merge = (recipe: Omit<TaskMergeRecipe, 'sparsification'>, sparsification: (label: string) => TaskMergeRecipe['sparsification']): Recipe =>
  (base, a, b, label) => taskMerge(base, [a, b], { ...recipe, sparsification: sparsification(label) });

const recipes: Record<string, Recipe> = {
  linear: (_, a, b) => blendInFloat32(BF16, [a, b], [0.4, 0.6]),
  'task arithmetic': merge({ weights: [0.7, 0.5], signConsensus: false, normalize: false }, () => ({ kind: 'none' })),
  'fine-tune': (_, a, __, label) => {
    const delta = fineTuneDelta(64, 64, 3e-4, random(label.length));
    return a.map((x, i) => roundTo(BF16, x + delta[i]!));
  },
  'TIES 0.5': merge({ weights: [0.5, 0.5], signConsensus: true, normalize: true }, () => ({ kind: 'magnitude', density: 0.5 })),
  'DARE 0.3': merge({ weights: [0.5, 0.5], signConsensus: false, normalize: false }, (label) => ({ kind: 'random', density: 0.3, random: randomFor(label) })),
  'DARE-TIES 0.3': merge({ weights: [0.5, 0.5], signConsensus: true, normalize: true }, (label) => ({ kind: 'random', density: 0.3, random: randomFor(label) })),
  'breadcrumbs 0.5': merge({ weights: [0.5, 0.5], signConsensus: false, normalize: false }, () => ({ kind: 'magnitude-outliers', density: 0.5, gamma: 0.01 })),
};

/** Three tensors; parents 0 (the base), 1, 2 are fine-tunes `ulps` steps apart. */
function read(recipe: Recipe, ulps: number) {
  const sums = emptyElementwiseSums(3, 0);
  for (const seed of [1, 2, 3]) {
    const [base, a, b] = fineTunes(BF16, 64, 64, 3, ulps, 40 + seed);
    const suspect = recipe(base!, a!, b!, `tensor-${seed}`);
    const part = emptyElementwiseSums(3, 0);
    const cells = cellsOf(BF16, suspect);
    accumulateElementwise(suspect, cells.above, cells.below, [base!, a!, b!], suspect.length, 4, new Float64Array(3), part);
    addElementwiseSums(sums, part);
  }
  const reading = readElementwise(sums);
  return { reading, finding: classifyElementwise(reading) };
}

describe('element-wise merges', () => {
  for (const ulps of [2, 8]) {
    describe(`parents ${ulps} steps from the base`, () => {
      for (const name of ['linear', 'task arithmetic', 'fine-tune']) {
        it(`does not call ${name} an element-wise merge`, () => {
          expect(read(recipes[name]!, ulps).finding).toBeNull();
        });
      }

      it('recognises TIES with its density and sign election', () => {
        const { finding } = read(recipes['TIES 0.5']!, ulps);
        expect(finding!.method).toBe('ties');
        expect(finding!.signElection).toBe(true);
        expect(finding!.density).toBeCloseTo(0.5, 1);
      });

      for (const name of ['DARE 0.3', 'DARE-TIES 0.3']) {
        it(`recognises ${name} as random dropping, with density and task scales`, () => {
          const { finding, reading } = read(recipes[name]!, ulps);
          expect(finding!.method).toBe('dare');
          expect(Math.abs(finding!.density - 0.3)).toBeLessThan(0.03);
          if (name === 'DARE 0.3') for (const scale of reading.scales) expect(Math.abs(scale! - 0.5)).toBeLessThan(0.06);
        });
      }

      it('recognises magnitude pruning without sign election (breadcrumbs)', () => {
        const { finding } = read(recipes['breadcrumbs 0.5']!, ulps);
        expect(finding!.method).toBe('magnitude-pruned');
        expect(finding!.signElection).toBe(false);
        // Breadcrumbs also drops the top 1% of |Δ|, which the independence reading does not model.
        expect(Math.abs(finding!.density - 0.5)).toBeLessThan(0.08);
      });
    });
  }

  it('adds sums of parts to the sums of the whole', () => {
    const [base, a, b] = fineTunes(BF16, 16, 16, 3, 8, 9);
    const suspect = recipes['TIES 0.5']!(base!, a!, b!, 'x');
    const whole = emptyElementwiseSums(3, 0);
    const cells = cellsOf(BF16, suspect);
    accumulateElementwise(suspect, cells.above, cells.below, [base!, a!, b!], 256, 4, new Float64Array(3), whole);
    const parts = emptyElementwiseSums(3, 0);
    for (const [start, end] of [[0, 100], [100, 256]] as const) {
      const part = emptyElementwiseSums(3, 0);
      accumulateElementwise(suspect.subarray(start), cells.above.subarray(start), cells.below.subarray(start), [base!, a!, b!].map((p) => p.subarray(start)), end - start, 4, new Float64Array(3), part);
      addElementwiseSums(parts, part);
    }
    expect({ ...parts, movedGram: [], largeGram: [] }).toEqual({ ...whole, movedGram: [], largeGram: [] });
    for (let i = 0; i < 9; i++) expect(parts.largeGram[i]!).toBeCloseTo(whole.largeGram[i]!, 12);
  });
});
