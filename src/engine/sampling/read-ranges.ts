/**
 * The stored bytes a logical read touches. A sampled scan fetches every block's bytes
 * first, coalesced and concurrently (sampled-scan.ts), then reads the block through the
 * same logical reader over the fetched bytes; so it must know, before reading, which
 * byte ranges of which stored tensors (codes, scales, global scale) the reader will ask
 * for. These mirror the readers in format/logical-tensor.ts exactly; a read outside
 * what was fetched fails loudly (FetchedRanges), never silently.
 */
import { floatFormat } from '../../format/dtype.js';
import { recipeLeaves, scaleRowSpan, type TensorRecipe } from '../../format/logical-tensor.js';
import { minifloatFormat } from '../../format/minifloat.js';
import type { TensorDescriptor } from '../../format/model-layout.js';

/** Bytes [start, end) of the shard file that holds `leaf`. */
export interface LeafRange {
  readonly leaf: TensorDescriptor;
  readonly start: number;
  readonly end: number;
}

/** Appends to `into` the byte ranges a read of elements [first, first + count) of `recipe` touches. */
export function readRanges(recipe: TensorRecipe<TensorDescriptor>, first: number, count: number, into: LeafRange[]): void {
  if (count <= 0) return;
  switch (recipe.kind) {
    case 'stored': {
      const leaf = recipe.leaf;
      const float = floatFormat(recipe.codes);
      if (float) {
        const start = leaf.start + first * float.bytes;
        into.push({ leaf, start, end: start + count * float.bytes });
        return;
      }
      const mini = minifloatFormat(recipe.codes);
      if (!mini) throw new RangeError(`${recipe.name}: no byte layout for codes ${recipe.codes}`);
      // Packed codes (F4: two per byte): the bytes that hold the range.
      const perByte = 8 / mini.bits;
      into.push({ leaf, start: leaf.start + Math.floor(first / perByte), end: leaf.start + Math.ceil((first + count) / perByte) });
      return;
    }
    case 'slice':
      readRanges(recipe.inner, recipe.offset + first, count, into);
      return;
    case 'scaled': {
      readRanges(recipe.codes, first, count, into);
      // The scale rows the range touches, as ScaledTensor.read computes them.
      const scaleCols = Math.ceil(recipe.grid.cols / recipe.grid.blockCols);
      const { lowRow, highRow } = scaleRowSpan(recipe.grid, first, count);
      readRanges(recipe.scales, lowRow * scaleCols, (highRow - lowRow + 1) * scaleCols, into);
      if (recipe.global) readRanges(recipe.global.tensor, 0, 1, into);
      return;
    }
    case 'transposed':
      // A transposed read assembles bands of whole stored matrices: fetch the stored
      // tensors whole (only gpt-oss's MXFP4 experts against a BF16 release are read so).
      for (const leaf of recipeLeaves(recipe)) into.push({ leaf, start: leaf.start, end: leaf.start + leaf.byteLength });
      return;
  }
}
