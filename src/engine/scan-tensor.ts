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
import { accumulateTwoParentsCodes16, accumulateTwoParentsCodes16Checked, codes16Tables, informativeThreshold, type Codes16Tables } from './accumulate-codes16.js';
import { emptyMoments, PROFILE_BIN, PROFILE_BINS, PROFILE_LO, type TensorMoments } from './moments.js';

export interface ScanOptions {
  reference: number;
  informativeUlps: number;
  /**
   * Elements summed naively before the totals enter the compensated sums (≤ 2^16 keeps
   * the drift of the inner float64 sums negligible). The generic kernel also decodes
   * this many elements at a time: ≈ 8 bytes × (k + 3) × chunk × 2 slots of memory.
   */
  chunkElements: number;
  /**
   * Bytes read per input and call on the fused 16-bit path: large positional reads
   * amortize the per-call cost of the thread pool behind fs reads.
   */
  readBytes?: number;
  /** Called with the input bytes consumed after each read block. */
  onBytes?: (bytes: number) => void;
}

export const DEFAULT_CHUNK_ELEMENTS = 1 << 16;
/** 1 MiB per input and read: measured no faster at 4 or 8 MiB, and memory is 2 slots × (k+1) of it. */
export const DEFAULT_READ_BYTES = 1 << 20;

/** Reusable buffers for one read-ahead slot: raw bytes and (generic path) decoded values. */
interface Slot {
  readonly raw: Uint8Array[];
  /** What the last read returned for each input (a view of `raw`, normally). */
  readonly views: Uint8Array[];
  chunk: DecodedChunk | null;
}

/** The element range [from, to) of a tensor; the whole tensor when omitted. */
export interface ElementRange {
  from: number;
  to: number;
}

/**
 * Streams one aligned tensor (or an element range of it) through the kernel, block by
 * block, reading the next block of every input while the current one is computed.
 * Memory is two slots of buffers, whatever the tensor's size.
 *
 * Two parents stored in 16-bit formats (the usual bf16 checkpoint) take the fused
 * kernel over raw codes; anything else decodes to float64 first.
 */
export class TensorScanner {
  private readonly slots: [Slot, Slot];
  private readonly sums: ChunkSums;
  private readonly vector: Float64Array;
  private readonly profileDiff = new Float64Array(PROFILE_BINS + 1);
  /** One chunk's profile, kept apart so that a chunk can be summed again from scratch. */
  private readonly chunkProfileDiff = new Float64Array(PROFILE_BINS + 1);
  private readonly readBytes: number;
  private readonly thresholds = new Map<Codes16Tables, Float64Array>();

  constructor(
    private readonly parents: number,
    private readonly options: ScanOptions,
  ) {
    this.readBytes = Math.max(options.readBytes ?? DEFAULT_READ_BYTES, options.chunkElements * 8);
    this.slots = [this.makeSlot(), this.makeSlot()];
    this.sums = emptyChunkSums(parents);
    this.vector = new Float64Array(parents + 1);
  }

  private makeSlot(): Slot {
    // Raw buffers hold a fused block, or a generic chunk of the widest dtype (F64).
    return { raw: Array.from({ length: this.parents + 1 }, () => new Uint8Array(this.readBytes)), views: [], chunk: null };
  }

  private decodedChunk(slot: Slot): DecodedChunk {
    const n = this.options.chunkElements;
    slot.chunk ??= {
      count: 0,
      suspect: new Float64Array(n),
      above: new Float64Array(n),
      below: new Float64Array(n),
      parents: Array.from({ length: this.parents }, () => new Float64Array(n)),
    };
    return slot.chunk;
  }

  async scan(tensor: AlignedTensor, range?: ElementRange): Promise<TensorMoments> {
    const { from, to } = range ?? { from: 0, to: tensor.suspect.elements };
    const moments = emptyMoments(this.parents, this.options.reference);
    const accumulator = new CompensatedMoments(moments);
    moments.elements = to - from;
    this.profileDiff.fill(0);
    const formats = formatsOf(tensor);
    const { reference, informativeUlps, chunkElements } = this.options;
    if (this.parents === 2 && formats[0]!.bytes === 2 && formats.every((f) => f === formats[0])) {
      const tables = codes16Tables(formats[0]!);
      let threshold = this.thresholds.get(tables);
      if (!threshold) {
        threshold = informativeThreshold(tables, informativeUlps);
        this.thresholds.set(tables, threshold);
      }
      const threshold16 = threshold;
      const chunkDiff = this.chunkProfileDiff;
      const profileDiff = this.profileDiff;
      await this.stream(tensor, formats, from, to, this.readBytes / 2, (slot, count) => {
        const codes = slot.views.map(codesOf);
        const suspectCodes = codes[0]!;
        const referenceCodes = codes[1 + reference]!;
        const otherCodes = codes[2 - reference]!;
        for (let first = 0; first < count; first += chunkElements) {
          const last = Math.min(first + chunkElements, count);
          resetChunkSums(this.sums);
          chunkDiff.fill(0);
          const args = [suspectCodes, referenceCodes, otherCodes, first, last, tables, tables.value, threshold16, reference, PROFILE_LO, PROFILE_BIN, chunkDiff, this.sums] as const;
          if (!accumulateTwoParentsCodes16(...args)) {
            resetChunkSums(this.sums);
            chunkDiff.fill(0);
            accumulateTwoParentsCodes16Checked(...args);
          }
          for (let b = 0; b <= PROFILE_BINS; b++) profileDiff[b]! += chunkDiff[b]!;
          accumulator.addChunk(this.sums);
        }
      });
    } else {
      await this.scanGeneric(tensor, formats, from, to, accumulator);
    }
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

  private scanGeneric(tensor: AlignedTensor, formats: FloatFormat[], from: number, to: number, accumulator: CompensatedMoments): Promise<void> {
    const { reference, informativeUlps } = this.options;
    return this.stream(tensor, formats, from, to, this.options.chunkElements, (slot, count) => {
      const chunk = this.decode(slot, formats, count);
      resetChunkSums(this.sums);
      if (this.parents === 2) {
        accumulateTwoParents(chunk, reference, informativeUlps, PROFILE_LO, PROFILE_BIN, this.profileDiff, this.sums);
      } else {
        accumulateManyParents(chunk, reference, informativeUlps, this.vector, this.sums);
      }
      accumulator.addChunk(this.sums);
    });
  }

  /**
   * A second pass: how many informative elements (as `scan` defines them) the blend
   * Σ w_j p_j reproduces bit for bit, i.e. falls inside the suspect value's rounding cell.
   * Needed when no exact-hit profile exists (three or more parents).
   */
  async countReproduced(
    tensor: AlignedTensor,
    weights: readonly number[],
    range?: ElementRange,
  ): Promise<{ informative: number; reproduced: number }> {
    const { from, to } = range ?? { from: 0, to: tensor.suspect.elements };
    const { reference, informativeUlps } = this.options;
    let informative = 0;
    let reproduced = 0;
    const k = this.parents;
    const formats = formatsOf(tensor);
    await this.stream(tensor, formats, from, to, this.options.chunkElements, (slot, count) => {
      const { suspect, above, below, parents } = this.decode(slot, formats, count);
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

  /**
   * Reads elements [from, to) of every input in blocks of `blockElements`, in file order,
   * double-buffered: the next block's reads are in flight while `visit` computes.
   */
  private async stream(
    tensor: AlignedTensor,
    formats: FloatFormat[],
    from: number,
    to: number,
    blockElements: number,
    visit: (slot: Slot, count: number) => void,
  ): Promise<void> {
    const inputs: TensorDescriptor[] = [tensor.suspect, ...tensor.parents];
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

    let first = from;
    let current = 0;
    let pending = first < to ? read(this.slots[0], first, Math.min(blockElements, to - first)) : null;
    while (pending) {
      const count = Math.min(blockElements, to - first);
      await pending;
      const next = first + count;
      pending = next < to ? read(this.slots[1 - current]!, next, Math.min(blockElements, to - next)) : null;
      try {
        visit(this.slots[current]!, count);
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

  private decode(slot: Slot, formats: FloatFormat[], count: number): DecodedChunk {
    const chunk = this.decodedChunk(slot);
    chunk.count = count;
    decodeWithCell(formats[0]!, slot.views[0]!, chunk.suspect, chunk.above, chunk.below, count);
    for (let j = 0; j < this.parents; j++) decode(formats[j + 1]!, slot.views[j + 1]!, chunk.parents[j]!, count);
    return chunk;
  }
}

function formatsOf(tensor: AlignedTensor): FloatFormat[] {
  return [tensor.suspect, ...tensor.parents].map((t) => {
    const format = floatFormat(t.dtype);
    if (!format) throw new Error(`scan: ${t.name} has undecodable dtype ${t.dtype}`);
    return format;
  });
}

/** The codes of a read block; copied only when the view is not 2-byte aligned. */
function codesOf(view: Uint8Array): Uint16Array {
  if (view.byteOffset % 2 === 0) return new Uint16Array(view.buffer, view.byteOffset, view.byteLength >> 1);
  return new Uint16Array(view.slice().buffer);
}
