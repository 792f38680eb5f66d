/**
 * The committed fixtures of fixtures/recipes/ (made with our implementation of
 * mergekit's methods, scripts/fixture-lib/recipe-fixtures.ts) give back the parameters
 * they were made with, through the pure readers — moments and sums computed here
 * element by element, as the engine's passes will.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cellsOf } from '../../engine/recipes/cells.js';
import { componentOf, layerOf } from '../../../src/align/tensor-name.js';
import { decode, FLOAT_FORMATS, floatFormat } from '../../../src/format/dtype.js';
import { loadModel } from '../../../src/format/load-model.js';
import { fitTensor } from '../../../src/fit/tensor-fit.js';
import { accumulateElementwise, addElementwiseSums, emptyElementwiseSums } from '../../../src/engine/recipes/elementwise-sums.js';
import { classifyElementwise, readElementwise } from '../../../src/fit/recipes/elementwise-reading.js';
import { readSlerp } from '../../../src/fit/recipes/slerp-reading.js';
import { subsetFits } from '../../../src/fit/recipes/subset-fits.js';
import { accumulateSketch, emptySketch } from '../../../src/engine/recipes/tensor-sketch.js';
import type { TensorReport } from '../../../src/report-schema.js';
import { layerProfiles } from '../../../src/verdict/recipes/layer-schedule.js';
import { findTensorSources, layerMap, type SketchedTensor } from '../../../src/verdict/recipes/layer-map.js';
import { discoverParents } from '../../../src/verdict/recipes/parent-discovery.js';
import { referenceMoments } from '../../helpers/reference-moments.js';
import type { RecipeAnswer } from '../../../scripts/fixture-lib/recipe-fixtures.js';
import { compileRecipe, recipeKey } from '../../../src/engine/recipes/merge-arithmetic.js';
import { countExactMatches, emptyExactMatches, ExactMatchScratch } from '../../../src/engine/recipes/exact-match-count.js';
import { chooseReconstruction, type Reconstruction } from '../../../src/fit/recipes/reconstruction.js';
import { MAX_CANDIDATES, snapCandidates } from '../../../src/fit/recipes/snap-candidates.js';
import { modelWeightsForSnapping } from '../../../src/verdict/recipes/model-reconstruction.js';

const BF16 = FLOAT_FORMATS.BF16;
const repository = fileURLToPath(new URL('../../../', import.meta.url));
const answers = JSON.parse(await readFile(`${repository}fixtures/recipes/answers.json`, 'utf8')) as RecipeAnswer[];
const answer = (name: string): RecipeAnswer => answers.find((a) => a.case === name)!;

type Values = Map<string, { values: Float64Array; shape: readonly number[] }>;
const cache = new Map<string, Promise<Values>>();
function read(path: string): Promise<Values> {
  const cached = cache.get(path);
  if (cached) return cached;
  const loading = (async () => {
    const model = await loadModel(`${repository}${path}`);
    const out: Values = new Map();
    try {
      for (const [name, t] of model.tensors) {
        const bytes = await t.shard.source.read(t.start, t.start + t.byteLength);
        const values = new Float64Array(t.elements);
        decode(floatFormat(t.dtype)!, bytes, values, t.elements);
        out.set(name, { values, shape: t.shape });
      }
    } finally {
      await model.close();
    }
    return out;
  })();
  cache.set(path, loading);
  return loading;
}

async function inputs(a: RecipeAnswer) {
  const suspect = await read(a.suspect);
  const parents = await Promise.all(a.parents.map(read));
  const reference = a.base === null ? 0 : a.parents.indexOf(a.base);
  const names = [...suspect.keys()].filter((n) => parents.every((p) => p.has(n)));
  return { suspect, parents, reference, names };
}

describe('fixtures/recipes', () => {
  it('slerp-gradient: SLERP, not linear, with t per layer on the schedule it was made with', async () => {
    const { suspect, parents, names } = await inputs(answer('slerp-gradient'));
    const tensors: TensorReport[] = [];
    let separable = 0;
    for (const name of names) {
      const parentValues = parents.map((p) => p.get(name)!.values);
      const moments = referenceMoments(suspect.get(name)!.values, parentValues, BF16, 0, 4);
      const reading = readSlerp(moments, BF16)!;
      expect(reading.consistent).toContain('slerp');
      if (reading.separation > 2) {
        separable++;
        expect(reading.consistent).not.toContain('linear');
      }
      const layer = layerOf(name);
      if (layer !== null && name.includes('self_attn') && name.endsWith('proj.weight')) {
        expect(reading.t).toBeCloseTo(0.2 + 0.2 * layer, 2);
      }
      // The blend weight of B is the layer profile's input: it tracks t to O(θ²).
      tensors.push({ ...fitTensor(moments), name, shape: [], dtype: 'BF16', parentDtypes: [], component: componentOf(name), layer, kind: 'blend', parent: null, reason: null });
    }
    // Where t(1 − t)θ² is small (norm vectors, early attention layers at t = 0.2) the two
    // predicted sums are within the tolerance of each other and both stay consistent.
    expect(separable).toBe(23);
    expect(names.length).toBe(47);
    const profiles = layerProfiles(tensors, 1);
    const attention = profiles.find((p) => p.group === 'attention')!;
    expect(attention.schedule!.kind).toBe('ramp');
    expect(attention.schedule!.parameters[0]).toBeCloseTo(0.2, 1);
    expect(attention.schedule!.parameters[1]).toBeCloseTo(0.8, 1);
    const mlp = profiles.find((p) => p.group === 'mlp')!;
    expect(mlp.schedule!.kind).toBe('constant');
    expect(mlp.schedule!.parameters[0]).toBeCloseTo(0.3, 1);
  });

  // How close the density must come: the methods read directly within 0.05; DELLA (read as
  // DARE) within 0.1; breadcrumbs within 0.15, since without normalisation half of a 1-ulp
  // survivor, and opposite survivors that cancel, round back to the base and count as drops
  // (measured 0.36 at density 0.5; docs/forensics.md).
  const densityTolerance: Record<string, number> = { ties: 0.05, dare: 0.05, della: 0.1, breadcrumbs: 0.15 };
  for (const name of ['task-arithmetic', 'ties', 'dare', 'breadcrumbs', 'della'] as const) {
    it(`${name}: the method, its density and the task scales`, async () => {
      const a = answer(name);
      const { suspect, parents, reference, names } = await inputs(a);
      const sums = emptyElementwiseSums(parents.length, reference);
      let scaleSum = [0, 0, 0];
      let elements = 0;
      for (const tensor of names) {
        const s = suspect.get(tensor)!.values;
        const p = parents.map((m) => m.get(tensor)!.values);
        const part = emptyElementwiseSums(parents.length, reference);
        const cells = cellsOf(BF16, s);
        accumulateElementwise(s, cells.above, cells.below, p, s.length, 4, new Float64Array(parents.length), part);
        addElementwiseSums(sums, part);
        const fit = fitTensor(referenceMoments(s, p, BF16, reference, 4));
        if (fit.identifiability.identifiable) {
          scaleSum = scaleSum.map((x, j) => x + s.length * (fit.weights[j] ?? 0));
          elements += s.length;
        }
      }
      const finding = classifyElementwise(readElementwise(sums));
      const expected = a.expect as { elementwise: string | null; consistentWith?: string; density?: number; scales?: (number | null)[] };
      if (expected.elementwise === null) {
        expect(finding).toBeNull();
        // Task arithmetic: the blend fit with the base among the parents gives the scales.
        expect(scaleSum[1]! / elements).toBeCloseTo(0.7, 2);
        expect(scaleSum[2]! / elements).toBeCloseTo(0.5, 2);
        expect(scaleSum[0]! / elements).toBeCloseTo(-0.2, 2);
      } else {
        expect(finding!.method).toBe(expected.elementwise);
        expect(finding!.consistentWith).toContain(expected.consistentWith);
        expect(Math.abs(finding!.density - expected.density!)).toBeLessThan(densityTolerance[name]!);
      }
    });
  }

  it('passthrough-stack: the layer map of the slices', async () => {
    const a = answer('passthrough-stack');
    const suspect = await read(a.suspect);
    const parents = await Promise.all(a.parents.map(read));
    const sketched = (model: Values): SketchedTensor[] =>
      [...model].map(([name, { values, shape }]) => {
        const sketch = emptySketch();
        accumulateSketch(values, values.length, 0, sketch);
        return { name, shape, layer: layerOf(name), sketch };
      });
    const parentSketches = parents.map(sketched);
    const suspectSketches = sketched(suspect);
    const ranges = layerMap(suspectSketches, findTensorSources(suspectSketches, parentSketches), parentSketches);
    expect(ranges).toEqual([
      { suspectFrom: 0, suspectTo: 1, parent: 0, parentFrom: 0, parentTo: 1 },
      { suspectFrom: 2, suspectTo: 4, parent: 1, parentFrom: 1, parentTo: 3 },
    ]);
  });

  for (const name of ['discover-two-of-four', 'discover-three-of-five'] as const) {
    it(`${name}: the parents that explain the suspect, and those that add nothing`, async () => {
      const a = answer(name);
      const { suspect, parents, names } = await inputs(a);
      const fits = names.map((tensor) =>
        subsetFits(referenceMoments(suspect.get(tensor)!.values, parents.map((p) => p.get(tensor)!.values), BF16, 0, 4)),
      );
      const found = discoverParents(fits)!;
      const expected = a.expect as { explaining: number[]; addNothing: number[] };
      expect(found.explaining).toEqual(expected.explaining);
      expect([...found.addNothing].sort()).toEqual(expected.addNothing);
    });
  }
});

/**
 * Every tensor's candidates replayed over the whole tensor, as the recipe pass does on
 * its blocks: with the tensor's SLERP reading and --base, and optionally the model's
 * weights (the element-weighted mean of the tensors' fits).
 */
async function replayFixture(name: string, withModelWeights: boolean) {
  const a = answer(name);
  const { suspect, parents, reference, names } = await inputs(a);
  const base = a.base === null ? null : reference;
  const tensors = names.map((tensor) => {
    const s = suspect.get(tensor)!.values;
    const p = parents.map((m) => m.get(tensor)!.values);
    const moments = referenceMoments(s, p, BF16, reference, 4);
    return { tensor, s, p, moments, fit: fitTensor(moments) };
  });
  const modelWeights = withModelWeights ? modelWeightsForSnapping(tensors.map((t) => t.fit)) : null;
  let parentsDiffer = 0;
  let reproduced = 0;
  let largestList = 0;
  const found = new Map<string, { reconstruction: Reconstruction; best: Set<string> }>();
  for (const { tensor, s, p, moments, fit } of tensors) {
    const candidates = snapCandidates(fit.weights, fit.weightsStdErr, BF16, { slerp: readSlerp(moments, BF16), base, modelWeights });
    largestList = Math.max(largestList, candidates.length);
    const compiled = candidates.map((c) => compileRecipe(c, BF16));
    const counts = emptyExactMatches(candidates.length);
    countExactMatches(s, p, s.length, compiled, new ExactMatchScratch(s.length), counts);
    const reconstruction = chooseReconstruction(compiled, candidates, counts)!;
    parentsDiffer += counts.parentsDiffer;
    reproduced += counts.reproducedWhereParentsDiffer[candidates.indexOf(reconstruction.recipe)]!;
    found.set(tensor, { reconstruction, best: new Set(reconstruction.consistent.map(recipeKey)) });
  }
  return { found, share: reproduced / parentsDiffer, largestList, modelWeights };
}

describe('fixtures/recipes, replayed bit for bit', () => {
  it('slerp-gradient: mergekit slerp in float32 reproduces every tensor, at the t it was made with', async () => {
    const { found, share, largestList } = await replayFixture('slerp-gradient', false);
    expect(share).toBeGreaterThanOrEqual(0.999);
    expect(largestList).toBeLessThanOrEqual(MAX_CANDIDATES);
    for (const [tensor, { reconstruction, best }] of found) {
      const layer = layerOf(tensor);
      const t = layer !== null && tensor.includes('.self_attn.') ? [0.2, 0.4, 0.6, 0.8][layer]! : layer !== null && tensor.includes('.mlp.') ? 0.3 : 0.5;
      const weights = [Math.round((1 - t) * 10) / 10, t];
      // The configured SLERP is the best recipe or reproduces exactly as much (ties: the raw fit on 15-element norm vectors).
      expect(best, tensor).toContain(`slerp/float32:${weights.join(',')}`);
      if (tensor.endsWith('proj.weight')) expect(reconstruction.recipe).toMatchObject({ method: 'slerp', t });
    }
  });

  it('task-arithmetic: base + 0.7·(A − base) + 0.5·(B − base) in float32, bit for bit', async () => {
    const { found, share, largestList } = await replayFixture('task-arithmetic', false);
    expect(share).toBeGreaterThanOrEqual(0.999);
    expect(largestList).toBeLessThanOrEqual(MAX_CANDIDATES);
    for (const [tensor, { reconstruction }] of found) {
      if (!tensor.endsWith('proj.weight')) continue;
      expect(reconstruction.recipe, tensor).toMatchObject({ method: 'task-arithmetic', base: 0, arithmetic: 'float32', weights: [-0.2, 0.7, 0.5] });
      expect(reconstruction.reproducedWhereParentsDifferShare, tensor).toBe(1);
    }
  });

  it("task-arithmetic: with the model's weights every tensor, norm vectors included, replays the model's recipe", async () => {
    const without = await replayFixture('task-arithmetic', false);
    const { found, share, largestList, modelWeights } = await replayFixture('task-arithmetic', true);
    expect(modelWeights![0]).toBeCloseTo(-0.2, 2);
    expect(modelWeights![1]).toBeCloseTo(0.7, 2);
    expect(modelWeights![2]).toBeCloseTo(0.5, 2);
    expect(largestList).toBeLessThanOrEqual(MAX_CANDIDATES);
    // Some small tensors' own fits are too far from the recipe for their windows.
    const missing = [...without.found.values()].filter(({ best }) => !best.has('task-arithmetic@0/float32:-0.2,0.7,0.5')).length;
    expect(missing).toBeGreaterThan(0);
    for (const [tensor, { best }] of found) expect(best, tensor).toContain('task-arithmetic@0/float32:-0.2,0.7,0.5');
    expect(share).toBeGreaterThanOrEqual(without.share);
  });
});
