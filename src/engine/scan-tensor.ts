import { decode, decodeWithCell, floatFormat, type FloatFormat } from '../format/dtype.js';
import type { TensorDescriptor } from '../format/model-layout.js';
import type { AlignedTensor } from '../align/align-tensors.js';
import {
  accumulateManyParents,
  accumulateTwoParents,
  CompensatedMoments,
  emptyChunkSums,
  resetChunkSums,
  type ChunkSums,
  type DecodedChunk,
} from './accumulate-chunk.js';
import { emptyMoments, PROFILE_BIN, PROFILE_BINS, PROFILE_LO, type TensorMoments } from './moments.js';

export interface ScanOptions {
  reference: number;
  informativeUlps: number;
  /** Elements per chunk: bounds memory (≈ 8 bytes × (k + 3) × chunk × 2 slots). */
  chunkElements: number;
  /** Called with the input bytes consumed after each chunk. */
  onBytes?: (bytes: number) => void;
}

export const DEFAULT_CHUNK_ELEMENTS = 1 << 16;

/** Reusable buffers for one input stream: raw bytes and decoded values. */
interface Slot {
  readonly raw: Uint8Array[];
  /** What the last read returned for each input (a view of `raw`, normally). */
  readonly views: Uint8Array[];
  readonly chunk: DecodedChunk;
}

function makeSlot(parents: number, chunkElements: number): Slot {
  return {
    // Raw buffers sized for the widest dtype (F64), so any mix of dtypes fits.
    raw: Array.from({ length: parents + 1 }, () => new Uint8Array(chunkElements * 8)),
    views: [],
    chunk: {
      count: 0,
      suspect: new Float64Array(chunkElements),
      above: new Float64Array(chunkElements),
      below: new Float64Array(chunkElements),
      parents: Array.from({ length: parents }, () => new Float64Array(chunkElements)),
    },
  };
}

/**
 * Streams one aligned tensor through the kernel, chunk by chunk, reading the next
 * chunk of every input while the current one is computed. Memory is two slots of
 * buffers, whatever the tensor's size.
 */
export class TensorScanner {
  private readonly slots: [Slot, Slot];
  private readonly sums: ChunkSums;
  private readonly vector: Float64Array;
  private readonly profileDiff = new Float64Array(PROFILE_BINS + 1);

  constructor(
    private readonly parents: number,
    private readonly options: ScanOptions,
  ) {
    this.slots = [makeSlot(parents, options.chunkElements), makeSlot(parents, options.chunkElements)];
    this.sums = emptyChunkSums(parents);
    this.vector = new Float64Array(parents + 1);
  }

  async scan(tensor: AlignedTensor): Promise<TensorMoments> {
    const moments = emptyMoments(this.parents, this.options.reference);
    const accumulator = new CompensatedMoments(moments);
    moments.elements = tensor.suspect.elements;
    this.profileDiff.fill(0);
    await this.stream(tensor, (chunk) => {
      resetChunkSums(this.sums);
      if (this.parents === 2) {
        accumulateTwoParents(chunk, this.options.reference, this.options.informativeUlps, PROFILE_LO, PROFILE_BIN, this.profileDiff, this.sums);
      } else {
        accumulateManyParents(chunk, this.options.reference, this.options.informativeUlps, this.vector, this.sums);
      }
      accumulator.addChunk(this.sums);
    });
    if (moments.profile) {
      let running = 0;
      const hits = moments.profile.hits;
      for (let b = 0; b < PROFILE_BINS; b++) {
        running += this.profileDiff[b]!;
        hits[b] = running;
      }
    }
    return accumulator.finish();
  }

  /**
   * A second pass: how many informative elements (as `scan` defines them) the blend
   * Σ w_j p_j reproduces bit for bit, i.e. falls inside the suspect value's rounding cell.
   * Needed when no exact-hit profile exists (three or more parents).
   */
  async countReproduced(tensor: AlignedTensor, weights: readonly number[]): Promise<{ informative: number; reproduced: number }> {
    const { reference, informativeUlps } = this.options;
    let informative = 0;
    let reproduced = 0;
    const k = this.parents;
    await this.stream(tensor, (chunk) => {
      const { count, suspect, above, below, parents } = chunk;
      const refValues = parents[reference]!;
      for (let i = 0; i < count; i++) {
        const s = suspect[i]!;
        const r = refValues[i]!;
        if (!Number.isFinite(s) || !Number.isFinite(r)) continue;
        const up = above[i]!;
        const down = below[i]!;
        const ulp = up > down ? up : down;
        let blend = r;
        let maxD = 0;
        let finite = true;
        for (let j = 0; j < k; j++) {
          if (j === reference) continue;
          const d = parents[j]![i]! - r;
          if (!Number.isFinite(d)) finite = false;
          const absD = d < 0 ? -d : d;
          if (absD > maxD) maxD = absD;
          blend += weights[j]! * d;
        }
        if (!finite || maxD === 0 || maxD < informativeUlps * ulp) continue;
        informative++;
        if (blend >= s - down / 2 && blend <= s + up / 2) reproduced++;
      }
    });
    return { informative, reproduced };
  }

  /** Reads every chunk of every input (double-buffered) and hands the decoded chunk to `visit`. */
  private async stream(tensor: AlignedTensor, visit: (chunk: DecodedChunk) => void): Promise<void> {
    const { chunkElements } = this.options;
    const inputs: TensorDescriptor[] = [tensor.suspect, ...tensor.parents];
    const formats = inputs.map((t) => {
      const format = floatFormat(t.dtype);
      if (!format) throw new Error(`scan: ${t.name} has undecodable dtype ${t.dtype}`);
      return format;
    });
    const total = tensor.suspect.elements;
    const bytesPerElement = formats.reduce((sum, f) => sum + f.bytes, 0);
    const read = (slot: Slot, first: number, count: number): Promise<unknown> =>
      Promise.all(
        inputs.map((t, i) => {
          const bytes = formats[i]!.bytes;
          const start = t.start + first * bytes;
          return t.shard.source.read(start, start + count * bytes, slot.raw[i]).then((view) => {
            slot.views[i] = view;
          });
        }),
      );

    let first = 0;
    let current = 0;
    let pending = total > 0 ? read(this.slots[0], 0, Math.min(chunkElements, total)) : null;
    while (pending) {
      const count = Math.min(chunkElements, total - first);
      await pending;
      const next = first + count;
      pending = next < total ? read(this.slots[1 - current]!, next, Math.min(chunkElements, total - next)) : null;
      try {
        this.decode(this.slots[current]!, formats, count);
        visit(this.slots[current]!.chunk);
      } catch (error) {
        // The read-ahead must not become an unhandled rejection once we give up.
        pending?.catch(() => undefined);
        throw error;
      }
      this.options.onBytes?.(bytesPerElement * count);
      first = next;
      current = 1 - current;
    }
  }

  private decode(slot: Slot, formats: FloatFormat[], count: number): void {
    const chunk = slot.chunk;
    chunk.count = count;
    decodeWithCell(formats[0]!, slot.views[0]!, chunk.suspect, chunk.above, chunk.below, count);
    for (let j = 0; j < this.parents; j++) decode(formats[j + 1]!, slot.views[j + 1]!, chunk.parents[j]!, count);
  }
}
