/**
 * Where a sampled scan reads: each tensor is cut into blocks of SAMPLE_BLOCK_ELEMENTS
 * consecutive elements, and the blocks are visited in a seeded random order that depends
 * only on (seed, tensor name, element count). Suspect and parents therefore read the
 * same positions, a run is reproducible from its seed, and taking more blocks later
 * (`--sample auto`) extends the same order: a sample of m blocks is always the first m.
 */

/**
 * 64 Ki elements (128 KiB of bf16 per input): large enough that a range request or a
 * positional read costs far more in bytes than in round trips, small enough that a
 * 1-in-1000 sample of a 4-billion-element tensor still holds tens of blocks to resample.
 */
export const SAMPLE_BLOCK_ELEMENTS = 1 << 16;

/** Blocks a tensor is cut into (the last one may be short). */
export function blockCount(elements: number, blockElements: number): number {
  return Math.ceil(elements / blockElements);
}

/** The element range of block `block`. */
export function blockRange(block: number, elements: number, blockElements: number): { from: number; to: number } {
  const from = block * blockElements;
  return { from, to: Math.min(elements, from + blockElements) };
}

/**
 * The blocks of a tensor compared in units (one per expert of a fused tensor, or the
 * common rows of a resized vocabulary): each unit is cut into blocks of its own, so a
 * block never straddles two units, and the tensor's blocks are the units' blocks one
 * after another. A one-unit tensor's blocks are `blockRange`'s.
 */
export class UnitBlocks {
  readonly count: number;
  /** firstBlock[u]: the tensor-wide index of unit u's first block; one past the end last. */
  private readonly firstBlock: Float64Array;

  constructor(
    private readonly unitElements: readonly number[],
    readonly blockElements: number,
  ) {
    this.firstBlock = new Float64Array(unitElements.length + 1);
    for (let u = 0; u < unitElements.length; u++) this.firstBlock[u + 1] = this.firstBlock[u]! + blockCount(unitElements[u]!, blockElements);
    this.count = this.firstBlock[unitElements.length]!;
  }

  /** The unit block `block` lies in, and its element range within that unit. */
  range(block: number): { unit: number; from: number; to: number } {
    let low = 0;
    let high = this.unitElements.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.firstBlock[mid]! <= block) low = mid;
      else high = mid - 1;
    }
    const { from, to } = blockRange(block - this.firstBlock[low]!, this.unitElements[low]!, this.blockElements);
    return { unit: low, from, to };
  }
}

/** FNV-1a of a tensor's name: keys the generators of that tensor. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A small counter-based generator (the mulberry32 mix): the stream for a key is fixed
 * forever, whatever the platform, which is what makes `--seed` reproduce a run.
 */
export function seededUniform(seed: number, key = 0): () => number {
  let state = (Math.imul(seed >>> 0, 0x9e3779b1) ^ key) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The order in which a tensor's blocks are sampled: a seeded permutation of
 * 0 … blocks−1 (Fisher–Yates), so a prefix is a simple random sample without replacement.
 * Memory is 4 bytes per block: 260 KB for the largest tensor of a 400B-parameter model.
 */
export function blockOrder(name: string, blocks: number, seed: number): Uint32Array {
  const order = new Uint32Array(blocks);
  for (let i = 0; i < blocks; i++) order[i] = i;
  const next = seededUniform(seed, nameHash(name) ^ blocks);
  for (let i = blocks - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Merges byte ranges (any order) whose gap is at most `maxGap` bytes: one request for
 * two blocks a few kilobytes apart costs less than two round trips. Returns them sorted.
 */
export function coalesceRanges(ranges: readonly ByteRange[], maxGap: number): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.start - last.end <= maxGap) last.end = Math.max(last.end, range.end);
    else merged.push({ start: range.start, end: range.end });
  }
  return merged;
}
