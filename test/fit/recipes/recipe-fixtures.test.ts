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

  for (const name of ['task-arithmetic', 'ties', 'dare'] as const) {
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
      const expected = a.expect as { elementwise: string | null; density?: number; scales?: (number | null)[] };
      if (expected.elementwise === null) {
        expect(finding).toBeNull();
        // Task arithmetic: the blend fit with the base among the parents gives the scales.
        expect(scaleSum[1]! / elements).toBeCloseTo(0.7, 2);
        expect(scaleSum[2]! / elements).toBeCloseTo(0.5, 2);
        expect(scaleSum[0]! / elements).toBeCloseTo(-0.2, 2);
      } else {
        expect(finding!.method).toBe(expected.elementwise);
        expect(Math.abs(finding!.density - expected.density!)).toBeLessThan(0.05);
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
