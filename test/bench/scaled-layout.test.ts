import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readRealLayout, scaleModel, scaleModelToSize } from '../../bench/scaled-layout.js';

const LAYOUT = fileURLToPath(new URL('../../data/qwen3_5_397b_a17b_layout.json', import.meta.url));

describe('scaled Qwen3.5 layout (the benchmark data)', () => {
  const real = readRealLayout(LAYOUT);

  it('keeps every tensor of the real checkpoint at scale 1 with all 512 experts', () => {
    const model = scaleModel(real, 1, 512);
    expect(model.tensorCount).toBe(real.tensors.length);
    const shapes = new Map(model.shards.flatMap((s) => s.tensors.map((t) => [t.name, t.shape])));
    for (const tensor of real.tensors) expect(shapes.get(tensor.name)).toEqual(tensor.shape);
  });

  // 2048 x 0.067 = 137.2 rounds to an odd 137: a fused gate_up_proj that cannot be cut
  // into its gate and up halves. Scaled as twice the intermediate size it stays even.
  it.each([0.067, 0.0335, 0.1, 0.25])('keeps gate_up_proj twice down_proj\'s intermediate size at width scale %s', (scale) => {
    const model = scaleModel(real, scale);
    const shapes = new Map(model.shards.flatMap((s) => s.tensors.map((t) => [t.name, t.shape])));
    let fused = 0;
    for (const [name, shape] of shapes) {
      if (!name.endsWith('.mlp.experts.gate_up_proj')) continue;
      const down = shapes.get(name.replace(/gate_up_proj$/, 'down_proj'))!;
      expect(shape[1]! % 2).toBe(0);
      expect(shape[1]).toBe(2 * down[2]!);
      expect(shape[0]).toBe(model.experts);
      fused++;
    }
    expect(fused).toBe(60);
  });

  it('fits the requested size', () => {
    const model = scaleModelToSize(real, 250e6);
    expect(model.fileBytes).toBeLessThanOrEqual(250e6);
    expect(model.fileBytes).toBeGreaterThan(0.97 * 250e6);
  });
});
