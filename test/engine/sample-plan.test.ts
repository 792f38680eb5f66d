import { describe, expect, it } from 'vitest';
import { blockCount, blockOrder, blockRange, coalesceRanges, UnitBlocks } from '../../src/engine/sample-plan.js';
import { readRanges, type LeafRange } from '../../src/engine/sampling/read-ranges.js';
import { scaledTensor, sliceTensor, storedTensor } from '../../src/format/logical-tensor.js';
import type { ShardDescriptor, TensorDescriptor } from '../../src/format/model-layout.js';
import { MemorySource } from '../../src/source/memory-source.js';

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

describe('blocks of a tensor compared in units', () => {
  it('cuts each unit into blocks of its own, so no block straddles two units', () => {
    const plan = new UnitBlocks([10, 0, 4], 4);
    expect(plan.count).toBe(4);
    expect([0, 1, 2, 3].map((b) => plan.range(b))).toEqual([
      { unit: 0, from: 0, to: 4 },
      { unit: 0, from: 4, to: 8 },
      { unit: 0, from: 8, to: 10 },
      { unit: 2, from: 0, to: 4 },
    ]);
  });
});

describe('the bytes a logical read touches', () => {
  /** A source that records the byte ranges read from it. */
  function recording(bytes: Uint8Array, name: string): { source: MemorySource; reads: { start: number; end: number }[] } {
    const source = new MemorySource(bytes, name);
    const reads: { start: number; end: number }[] = [];
    const read = source.read.bind(source);
    source.read = (start, end, into) => {
      reads.push({ start, end });
      return read(start, end, into);
    };
    return { source, reads };
  }

  it('names every byte range a scaled FP8 expert slice reads: codes, their block scales, and nothing else', async () => {
    // Two experts of [6, 8] F8_E4M3 codes with F32 scales per 4×4 block ([2, 2, 2] scales).
    const codes = recording(Uint8Array.from({ length: 96 }, (_, i) => (i * 37) % 120), 'codes');
    const scales = recording(new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer), 'scales');
    const shard = (source: MemorySource, size: number): ShardDescriptor => ({ file: source.name, source, size, dataStart: 0, metadata: {}, tensorNames: [] });
    const codesLeaf: TensorDescriptor = { name: 'w', dtype: 'F8_E4M3', shape: [2, 6, 8], elements: 96, shard: shard(codes.source, 96), start: 0, byteLength: 96 };
    const scalesLeaf: TensorDescriptor = { name: 's', dtype: 'F32', shape: [2, 2, 2], elements: 8, shard: shard(scales.source, 32), start: 0, byteLength: 32 };
    const fused = scaledTensor({
      name: 'w',
      codes: storedTensor(codesLeaf),
      scales: storedTensor(scalesLeaf),
      grid: { batch: 2, rows: 6, cols: 8, blockRows: 4, blockCols: 4, sharedAcrossBatch: false },
      encoding: 'F8_E4M3 × F32 scale per 4×4 block',
    });
    const expert = sliceTensor(fused, 48, [6, 8], 'w.1');
    for (const [first, count] of [[0, 48], [13, 7], [30, 18], [47, 1]] as const) {
      codes.reads.length = 0;
      scales.reads.length = 0;
      await expert.read(first, count, new Float64Array(count));
      const wanted: LeafRange[] = [];
      readRanges(expert.recipe, first, count, wanted);
      const of = (leaf: TensorDescriptor) => wanted.filter((r) => r.leaf === leaf).map(({ start, end }) => ({ start, end }));
      expect(of(codesLeaf)).toEqual(codes.reads);
      expect(of(scalesLeaf)).toEqual(scales.reads);
    }
    // Elements 13–19 of expert 1 (rows 1–2, so scale row 0 of that expert): its two scales.
    const wanted: LeafRange[] = [];
    readRanges(expert.recipe, 13, 7, wanted);
    expect(wanted.map(({ start, end }) => [start, end])).toEqual([[61, 68], [16, 24]]);
  });
});
