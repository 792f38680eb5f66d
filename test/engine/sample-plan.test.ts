import { describe, expect, it } from 'vitest';
import { blockCount, blockOrder, blockRange, coalesceRanges } from '../../src/engine/sample-plan.js';

describe('sample plan', () => {
  it('cuts a tensor into blocks, the last one short', () => {
    expect(blockCount(10, 4)).toBe(3);
    expect(blockRange(2, 10, 4)).toEqual({ from: 8, to: 10 });
    expect(blockRange(0, 10, 4)).toEqual({ from: 0, to: 4 });
  });

  it('visits every block once, in an order fixed by seed, name and size alone', () => {
    const order = blockOrder('model.layers.0.mlp.down_proj.weight', 1000, 7);
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(blockOrder('model.layers.0.mlp.down_proj.weight', 1000, 7)).toEqual(order);
    expect(blockOrder('model.layers.0.mlp.down_proj.weight', 1000, 8)).not.toEqual(order);
    expect(blockOrder('model.layers.1.mlp.down_proj.weight', 1000, 7)).not.toEqual(order);
    // A random order, not a shifted identity: the first 10 blocks are spread over the tensor.
    const first = [...order.subarray(0, 10)].sort((a, b) => a - b);
    expect(first[9]! - first[0]!).toBeGreaterThan(300);
  });

  it('merges ranges at most maxGap apart, in order', () => {
    const merged = coalesceRanges(
      [
        { start: 100, end: 110 },
        { start: 0, end: 10 },
        { start: 15, end: 20 },
        { start: 30, end: 40 },
      ],
      5,
    );
    expect(merged).toEqual([
      { start: 0, end: 20 },
      { start: 30, end: 40 },
      { start: 100, end: 110 },
    ]);
  });
});
