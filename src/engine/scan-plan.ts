import type { ElementRange, ScanInput } from './scan-tensor.js';

/**
 * Tensors longer than this are cut into element ranges of this length, scanned apart
 * (on any worker) and their moments added in range order. The cut does not depend on the
 * thread count, so a run on any number of threads (or shards) adds exactly the same
 * partial sums in the same order and gets bit-identical moments. 2^24 elements is ~100 MB
 * of a bf16 trio: large enough that the per-piece cost vanishes, small enough that one
 * 8.6 GB fused-expert tensor spreads over every core.
 */
export const PIECE_ELEMENTS = 1 << 24;

/** The element ranges a tensor of `elements` is scanned in, in order. */
export function piecesOf(elements: number, pieceElements: number = PIECE_ELEMENTS): ElementRange[] {
  const pieces: ElementRange[] = [];
  for (let from = 0; from < elements; from += pieceElements) pieces.push({ from, to: Math.min(from + pieceElements, elements) });
  if (pieces.length === 0) pieces.push({ from: 0, to: 0 });
  return pieces;
}

/** Stored bytes of all inputs of one aligned tensor (weights and their scales): what scanning it reads. */
export function tensorBytes(tensor: ScanInput): number {
  const bytes = (t: ScanInput['suspect']): number => ('storedBytes' in t ? t.storedBytes : t.byteLength);
  return bytes(tensor.suspect) + tensor.parents.reduce((sum: number, p: ScanInput['suspect']) => sum + bytes(p), 0);
}

export interface ShardSpec {
  /** 0-based. */
  index: number;
  count: number;
}

/**
 * The tensors (indexes into `tensors`, which is in file order) that shard `index` of
 * `count` analyses: consecutive runs of tensors with about the same number of bytes.
 * A tensor belongs to the shard in whose byte range its midpoint falls, so every tensor
 * is in exactly one shard, each shard reads its files front to back, and no shard is
 * more than one tensor's bytes away from an equal share. Depends only on the tensor
 * list, never on the machine.
 */
export function shardTensors<T = ScanInput>(
  tensors: readonly T[],
  shard: ShardSpec,
  bytesOf: (tensor: T) => number = tensorBytes as unknown as (tensor: T) => number,
): number[] {
  const total = tensors.reduce((sum, t) => sum + bytesOf(t), 0);
  const chosen: number[] = [];
  let before = 0;
  tensors.forEach((tensor, index) => {
    const bytes = bytesOf(tensor);
    const midpoint = before + bytes / 2;
    before += bytes;
    const owner = total === 0 ? index % shard.count : Math.min(shard.count - 1, Math.floor((midpoint / total) * shard.count));
    if (owner === shard.index) chosen.push(index);
  });
  return chosen;
}
