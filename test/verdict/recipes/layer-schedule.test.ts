import { describe, expect, it } from 'vitest';
import type { Component, TensorReport } from '../../../src/report-schema.js';
import { fitSchedules, layerProfiles } from '../../../src/verdict/recipes/layer-schedule.js';
import { sampleReport } from '../../helpers/sample-report.js';

const template = sampleReport().tensors.find((t) => t.identifiability.identifiable)!;

function tensor(layer: number, component: Component, weightB: number, elements = 4096): TensorReport {
  return { ...template, name: `model.layers.${layer}.${component}`, layer, component, elements, weights: [1 - weightB, weightB] };
}

/** Weight of B per layer, for attention and MLP tensors of 8 layers. */
function model(attention: (x: number) => number, mlp: (x: number) => number, layers = 8): TensorReport[] {
  return Array.from({ length: layers }, (_, layer) => {
    const x = layer / (layers - 1);
    return [tensor(layer, 'attention', attention(x)), tensor(layer, 'mlp', mlp(x), 8192)];
  }).flat();
}

describe('layerProfiles', () => {
  it('recovers a constant weight', () => {
    const [all] = layerProfiles(model(() => 0.6, () => 0.6), 1);
    expect(all!.schedule!.kind).toBe('constant');
    expect(all!.schedule!.parameters[0]).toBeCloseTo(0.6, 12);
  });

  it('recovers a ramp (mergekit gradient [0.2, 0.8]) with its end values', () => {
    const [all] = layerProfiles(model((x) => 0.2 + 0.6 * x, (x) => 0.2 + 0.6 * x), 1);
    expect(all!.schedule!.kind).toBe('ramp');
    expect(all!.schedule!.parameters[0]).toBeCloseTo(0.2, 10);
    expect(all!.schedule!.parameters[1]).toBeCloseTo(0.8, 10);
  });

  it('recovers separate schedules for attention and MLP (a mergekit SLERP with filters)', () => {
    const tent = (x: number): number => (x < 0.5 ? 0.1 + 1.6 * x : 0.9 - 1.6 * (x - 0.5));
    const profiles = layerProfiles(model(tent, () => 0.3), 1);
    const attention = profiles.find((p) => p.group === 'attention')!;
    const mlp = profiles.find((p) => p.group === 'mlp')!;
    expect(attention.schedule!.kind).toBe('gradient-3');
    expect(attention.schedule!.parameters.map((v) => Number(v.toFixed(6)))).toEqual([0.1, 0.9, 0.1]);
    expect(mlp.schedule!.kind).toBe('constant');
    // The layer means of "all" mix the two (elements-weighted: MLP tensors are twice as large).
    const all = profiles.find((p) => p.group === 'all')!;
    expect(all.points[0]!.weight).toBeCloseTo((0.1 * 4096 + 0.3 * 8192) / 12288, 12);
    expect(all.points[0]!.spread).toBeGreaterThan(0.09);
  });

  it('recovers a step (layers 0–4 from one recipe, 5–7 from another)', () => {
    const [all] = layerProfiles(model((x) => (x < 5 / 7 ? 0.25 : 0.75), (x) => (x < 5 / 7 ? 0.25 : 0.75)), 1);
    expect(all!.schedule!.kind).toBe('step');
    expect(all!.schedule!.parameters).toEqual([0.25, 0.75, 5]);
  });

  it('keeps the simple schedule when the weights only scatter within estimation noise', () => {
    const jitter = [0.0011, -0.0009, 0.0004, -0.0012, 0.0008, -0.0003, 0.001, -0.0007];
    const points = jitter.map((j, layer) => ({ layer, weight: 0.6 + j, stdErr: 0, spread: 0, tensors: 1, elements: 1 }));
    expect(fitSchedules(points)[0]!.kind).toBe('constant');
  });

  it('does not read a schedule into layer means that scatter within their standard errors', () => {
    const scatter = [0.615, 0.567, 0.632, 0.59];
    const points = scatter.map((weight, layer) => ({ layer, weight, stdErr: 0.02, spread: 0, tensors: 1, elements: 64 }));
    expect(fitSchedules(points)[0]!.kind).toBe('constant');
  });

  it('leaves out tensors whose weight is not identifiable and tensors outside layers', () => {
    const outside = { ...tensor(0, 'embedding', 0.9), layer: null };
    const unknown = { ...tensor(3, 'attention', 0.9), weights: [null, null] };
    const [all] = layerProfiles([...model(() => 0.6, () => 0.6, 4), outside, unknown], 1);
    expect(all!.points.map((p) => p.weight)).toEqual([0.6, 0.6, 0.6, 0.6]);
  });
});
