import { describe, expect, it } from 'vitest';
import { FLOAT_FORMATS, roundTo } from '../../../src/format/dtype.js';
import { accumulateSketch, emptySketch, sketchDistance, type TensorSketch } from '../../../src/engine/recipes/tensor-sketch.js';
import { findTensorSources, layerMap, roleOf, type SketchedTensor } from '../../../src/verdict/recipes/layer-map.js';
import { stackLayers } from '../../../scripts/fixture-lib/mergekit-methods.js';
import { baseTensor, fineTuneDelta, random } from '../../fit/synthetic.js';

const BF16 = FLOAT_FORMATS.BF16;
const ROLES = [
  { role: 'self_attn.q_proj.weight', shape: [16, 16] },
  { role: 'self_attn.k_proj.weight', shape: [16, 16] },
  { role: 'mlp.up_proj.weight', shape: [32, 16] },
];

/** Sketched in two ranges, as the engine would in chunks. */
function sketchOf(values: Float64Array): TensorSketch {
  const sketch = emptySketch();
  const half = values.length >> 1;
  accumulateSketch(values, half, 0, sketch);
  accumulateSketch(values.subarray(half), values.length - half, half, sketch);
  return sketch;
}

type Model = Map<string, Float64Array>;
const nameOf = (layer: number, role: string): string => `model.layers.${layer}.${role}`;

/** A base of 4 layers and two fine-tunes of it (≈0.5% of the norm each). */
function family(): { a: Model; b: Model } {
  const next = random(77);
  const a: Model = new Map();
  const b: Model = new Map();
  for (let layer = 0; layer < 4; layer++) {
    for (const { role, shape } of ROLES) {
      const n = shape[0]! * shape[1]!;
      const base = baseTensor(n, next);
      for (const model of [a, b]) {
        const delta = fineTuneDelta(shape[0]!, shape[1]!, 1e-4, next);
        model.set(nameOf(layer, role), base.map((x, i) => roundTo(BF16, x + delta[i]!)));
      }
    }
  }
  return { a, b };
}

function sketched(model: Model): SketchedTensor[] {
  return [...model].map(([name, values]) => ({
    name,
    shape: ROLES.find((r) => name.endsWith(r.role))!.shape,
    layer: Number(/layers\.(\d+)\./.exec(name)![1]),
    sketch: sketchOf(values),
  }));
}

describe('layer stacking', () => {
  const { a, b } = family();

  it('maps a passthrough stack back to its slices', () => {
    // mergekit slices: A layers [0, 2), then B layers [1, 4).
    const plan = stackLayers([{ source: 0, from: 0, to: 2 }, { source: 1, from: 1, to: 4 }]);
    const suspect: Model = new Map();
    plan.forEach(({ source, layer }, suspectLayer) => {
      for (const { role } of ROLES) suspect.set(nameOf(suspectLayer, role), [a, b][source]!.get(nameOf(layer, role))!.slice());
    });
    const parents = [sketched(a), sketched(b)];
    const sources = findTensorSources(sketched(suspect), parents);
    expect(sources.find((s) => s.name === nameOf(3, 'self_attn.k_proj.weight'))).toMatchObject({
      parent: 1,
      source: nameOf(2, 'self_attn.k_proj.weight'),
      distance: 0,
    });
    expect(layerMap(sketched(suspect), sources, parents)).toEqual([
      { suspectFrom: 0, suspectTo: 1, parent: 0, parentFrom: 0, parentTo: 1 },
      { suspectFrom: 2, suspectTo: 4, parent: 1, parentFrom: 1, parentTo: 3 },
    ]);
  });

  it('keeps the same layer of a sibling fine-tune as a candidate for the exact check, and no other layer', () => {
    const suspect: Model = new Map([[nameOf(1, 'mlp.up_proj.weight'), a.get(nameOf(1, 'mlp.up_proj.weight'))!.slice()]]);
    const [source] = findTensorSources(sketched(suspect).map((t) => ({ ...t, shape: [32, 16] })), [sketched(a), sketched(b)]);
    expect(source!.candidates.map((c) => [c.parent, c.name])).toEqual([
      [0, nameOf(1, 'mlp.up_proj.weight')],
      [1, nameOf(1, 'mlp.up_proj.weight')],
    ]);
    expect(source!.candidates[1]!.distance).toBeGreaterThan(0);
  });

  it('estimates relative distances: about 2 between unrelated tensors of one shape', () => {
    const x = sketchOf(a.get(nameOf(0, 'self_attn.q_proj.weight'))!);
    const y = sketchOf(a.get(nameOf(2, 'self_attn.k_proj.weight'))!);
    const d = sketchDistance(x, y);
    expect(d).toBeGreaterThan(0.5);
    expect(d).toBeLessThan(5);
  });

  it('names the role of a tensor without its layer index', () => {
    expect(roleOf('model.layers.12.mlp.up_proj.weight')).toBe('model.layers.*.mlp.up_proj.weight');
    expect(roleOf('transformer.h.3.attn.c_attn.weight')).toBe('transformer.h.*.attn.c_attn.weight');
    expect(roleOf('lm_head.weight')).toBe('lm_head.weight');
  });
});
