import { describe, expect, it } from 'vitest';
import type { AlignedTensor } from '../../src/align/align-tensors.js';
import type { TensorDescriptor } from '../../src/format/model-layout.js';
import { piecesOf, shardTensors, tensorBytes } from '../../src/engine/scan-plan.js';

function tensorOfBytes(name: string, bytes: number): AlignedTensor {
  const descriptor = { name, byteLength: bytes } as TensorDescriptor;
  return { name, suspect: descriptor, parents: [descriptor, descriptor] };
}

describe('piecesOf', () => {
  it('cuts a tensor into consecutive ranges of the piece length, the last one shorter', () => {
    expect(piecesOf(10, 4)).toEqual([{ from: 0, to: 4 }, { from: 4, to: 8 }, { from: 8, to: 10 }]);
    expect(piecesOf(8, 4)).toEqual([{ from: 0, to: 4 }, { from: 4, to: 8 }]);
    expect(piecesOf(0, 4)).toEqual([{ from: 0, to: 0 }]);
  });

  it('handles tensors beyond 2^32 elements with exact integer bounds', () => {
    const pieces = piecesOf(2 ** 32 + 5, 2 ** 24);
    expect(pieces).toHaveLength(257);
    expect(pieces.at(-1)).toEqual({ from: 2 ** 32, to: 2 ** 32 + 5 });
  });
});

describe('shardTensors', () => {
  it('gives every tensor to exactly one shard, in consecutive runs of about equal bytes', () => {
    const tensors = [10, 10, 10, 10, 40, 10, 10].map((bytes, i) => tensorOfBytes(`t${i}`, bytes));
    // Each tensor reads 3× its bytes (suspect and two parents): 300 in all, 100 per shard of 3.
    expect(tensorBytes(tensors[4]!)).toBe(120);
    const shards = [0, 1, 2].map((index) => shardTensors(tensors, { index, count: 3 }));
    // Midpoints 15, 45, 75, 105, 165, 225, 255 fall in [0,100), [100,200), [200,300).
    expect(shards).toEqual([[0, 1, 2], [3, 4], [5, 6]]);
  });

  it('is one shard when N is 1, and leaves shards empty rather than splitting a tensor', () => {
    const tensors = [5, 100, 5].map((bytes, i) => tensorOfBytes(`t${i}`, bytes));
    expect(shardTensors(tensors, { index: 0, count: 1 })).toEqual([0, 1, 2]);
    const four = [0, 1, 2, 3].map((index) => shardTensors(tensors, { index, count: 4 }));
    expect(four.flat().sort()).toEqual([0, 1, 2]);
    expect(four).toEqual([[0], [], [1], [2]]);
  });
});
